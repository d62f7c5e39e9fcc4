// Package metrics renders the services' state in Prometheus' text
// exposition format (0.0.4), for `daemonctl metrics` (node_exporter's
// textfile collector) and a run's /metrics. It is written here, not with
// client_golang: that library's package init (protobuf descriptors)
// would slow every daemonctl command, and the format is a few lines. The
// tests parse the output with Prometheus' own parser.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/daemonctl/daemonctl/internal/state"
)

type family struct {
	name, kind, help string
	value            func(state.Status) (float64, bool)
}

var families = []family{
	{"daemonctl_service_up", "gauge", "1 when the service's process runs.", func(s state.Status) (float64, bool) {
		return bool01(s.PID != nil && s.State != state.Dead), true
	}},
	{"daemonctl_service_ready", "gauge", "1 when the service passed its readiness check.", func(s state.Status) (float64, bool) {
		return bool01(s.Ready && s.State == state.Running), true
	}},
	{"daemonctl_service_restarts_total", "counter", "Restarts by the restart policy since the service was started.", func(s state.Status) (float64, bool) {
		return float64(s.Restarts), true
	}},
	{"daemonctl_service_start_time_seconds", "gauge", "When the running instance started, in seconds since the epoch.", func(s state.Status) (float64, bool) {
		if s.StartedAt == nil {
			return 0, false
		}
		return float64(s.StartedAt.UnixMilli()) / 1000, true
	}},
	{"daemonctl_service_last_exit_code", "gauge", "The last exit's code (128+signal when a signal ended it; -1 unknown).", func(s state.Status) (float64, bool) {
		if s.LastExit == nil {
			return 0, false
		}
		return float64(s.LastExit.Code), true
	}},
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Write writes the metrics of statuses, and the resident memory of the
// supervisors watching them.
func Write(w io.Writer, statuses []state.Status) error {
	bw := bufio.NewWriter(w)
	for _, f := range families {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		for _, s := range statuses {
			if v, ok := f.value(s); ok {
				fmt.Fprintf(bw, "%s{service=\"%s\"} %s\n", f.name, escape(s.Name), strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
	}
	seen := map[int]bool{}
	header := false
	for _, s := range statuses {
		if s.SupervisorPID == nil || seen[*s.SupervisorPID] {
			continue
		}
		seen[*s.SupervisorPID] = true
		rss, err := residentBytes(*s.SupervisorPID)
		if err != nil {
			continue
		}
		if !header {
			fmt.Fprintf(bw, "# HELP daemonctl_supervisor_resident_memory_bytes Resident memory of the supervisor watching the services.\n# TYPE daemonctl_supervisor_resident_memory_bytes gauge\n")
			header = true
		}
		fmt.Fprintf(bw, "daemonctl_supervisor_resident_memory_bytes{pid=\"%d\"} %d\n", *s.SupervisorPID, rss)
	}
	return bw.Flush()
}

// residentBytes reads a process's resident set size.
func residentBytes(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("pid %d: no VmRSS", pid)
}

// escape escapes a label value as the text format asks.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

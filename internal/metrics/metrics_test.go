package metrics

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// TestWriteParses: what Write writes is read back by Prometheus' own text
// parser, with the values it was given.
func TestWriteParses(t *testing.T) {
	pid, self := 4242, os.Getpid()
	started := time.Unix(1_700_000_000, 500_000_000)
	statuses := []state.Status{
		{Name: "master-server", State: state.Running, PID: &pid, Ready: true, Restarts: 2, StartedAt: &started, SupervisorPID: &self,
			LastExit: &proc.ExitStatus{Code: 143, Signal: "TERM"}},
		{Name: "worker-server", State: state.Stopped},
	}
	var b bytes.Buffer
	if err := Write(&b, statuses); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	get := func(name, service string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s in\n%s", name, b.String())
		}
		for _, m := range f.Metric {
			if m.Label[0].GetValue() == service {
				if m.Gauge != nil {
					return m.Gauge.GetValue()
				}
				return m.Counter.GetValue()
			}
		}
		t.Fatalf("no %s{service=%q}", name, service)
		return 0
	}
	for _, c := range []struct {
		name, service string
		want          float64
	}{
		{"daemonctl_service_up", "master-server", 1},
		{"daemonctl_service_up", "worker-server", 0},
		{"daemonctl_service_ready", "master-server", 1},
		{"daemonctl_service_restarts_total", "master-server", 2},
		{"daemonctl_service_start_time_seconds", "master-server", 1_700_000_000.5},
		{"daemonctl_service_last_exit_code", "master-server", 143},
	} {
		if got := get(c.name, c.service); got != c.want {
			t.Errorf("%s{service=%q} = %v, want %v", c.name, c.service, got, c.want)
		}
	}
	rss := fams["daemonctl_supervisor_resident_memory_bytes"]
	if rss == nil || rss.Metric[0].Gauge.GetValue() < 1<<20 {
		t.Errorf("supervisor memory: %v", rss)
	}
}

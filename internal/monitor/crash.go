package monitor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/reaper"
	"github.com/daemonctl/daemonctl/internal/state"
)

// CrashLogLines is how many lines of its log a crash record keeps.
const CrashLogLines = 50

// crashRecord gathers what is known about an unexpected exit.
func crashRecord(logFile, dir string, exit proc.ExitStatus, since time.Time) *state.Crash {
	tail, err := logs.Tail(logFile, CrashLogLines)
	if err != nil {
		tail = []string{"daemonctl: " + err.Error()}
	}
	return &state.Crash{At: time.Now().UTC(), Exit: exit, LogTail: tail, Artifacts: artifacts(dir, since)}
}

// artifacts lists the JVM fatal error logs and heap dumps written in dir
// since the service started.
func artifacts(dir string, since time.Time) []string {
	var out []string
	for _, pattern := range []string{"hs_err_pid*.log", "*.hprof"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.ModTime().Before(since) {
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out
}

// onExitTimeout bounds an on_exit hook: past it, the hook's whole process
// group is killed.
const onExitTimeout = 30 * time.Second

// runOnExit runs the service's on_exit command, if any, with the exit in
// its environment, and writes its output into the service's log. It
// returns by timeout at the latest (then the hook's process group is
// killed), and no later than reaper.HelperWaitDelay after the hook exits
// even if something it left in the background holds its output open.
func runOnExit(ctx context.Context, r *reaper.Reaper, timeout time.Duration, s *config.Service, env []string, exit proc.ExitStatus, restarts int, out *sink) {
	argv := s.OnExit
	if len(argv) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := reaper.Command(ctx, argv, s.Dir, append(env,
		"DAEMONCTL_SERVICE="+s.Name,
		"DAEMONCTL_EXIT_CODE="+strconv.Itoa(exit.Code),
		"DAEMONCTL_EXIT_SIGNAL="+exit.Signal,
		"DAEMONCTL_EXIT="+exit.String(),
		"DAEMONCTL_RESTARTS="+strconv.Itoa(restarts),
	))
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err := r.Run(cmd)
	out.Write(output.Bytes())
	if err != nil {
		out.notef("on_exit %s: %v", argv[0], err)
	}
}

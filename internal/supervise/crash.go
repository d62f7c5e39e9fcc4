package supervise

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// CrashLogLines is how many lines of its log a crash record keeps.
const CrashLogLines = 50

// crashRecord gathers what is known about an unexpected exit.
func crashRecord(logFile, dir string, exit proc.ExitStatus, since time.Time) *pidfile.Crash {
	tail, _ := logs.Tail(logFile, CrashLogLines)
	return &pidfile.Crash{At: time.Now().UTC(), Exit: exit, LogTail: tail, Artifacts: artifacts(dir, since)}
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

// runOnExit runs the service's on_exit command, if any, with the exit in
// its environment, and writes its output into the service's log.
func runOnExit(ctx context.Context, argv []string, dir string, env []string, name string, exit proc.ExitStatus, restarts int, out *sink) {
	if len(argv) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(env,
		"DAEMONCTL_SERVICE="+name,
		"DAEMONCTL_EXIT_CODE="+strconv.Itoa(exit.Code),
		"DAEMONCTL_EXIT_SIGNAL="+exit.Signal,
		"DAEMONCTL_EXIT="+exit.String(),
		"DAEMONCTL_RESTARTS="+strconv.Itoa(restarts),
	)
	output, err := cmd.CombinedOutput()
	if len(output) > 0 {
		out.Write(output)
	}
	if err != nil {
		out.notef("on_exit %s: %v", argv[0], err)
	}
}

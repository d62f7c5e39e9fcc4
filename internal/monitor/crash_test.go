package monitor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/proc"
)

func newTestSink(t *testing.T) (*sink, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "svc.out")
	rot := &logs.Rotator{Path: path}
	if err := rot.Open(); err != nil {
		t.Fatal(err)
	}
	s := &sink{log: rot}
	t.Cleanup(func() { s.close() })
	return s, path
}

// The hook: it prints and exits at once, leaving `sleep 40`
// holding its output open. With its timeout cut short, the hook returns at
// the timeout, and its output is kept.
func TestOnExitReturnsAtItsTimeout(t *testing.T) {
	out, logPath := newTestSink(t)
	s := &config.Service{Name: "web", Dir: t.TempDir(), OnExit: []string{"sh", "-c", "sleep 40 & echo done $DAEMONCTL_EXIT"}}
	env := []string{"PATH=" + os.Getenv("PATH")}
	began := time.Now()
	runOnExit(context.Background(), nil, 300*time.Millisecond, s, env, proc.ExitStatus{Code: 3}, 0, out)
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("on_exit took %s with a 300ms timeout", took)
	}
	out.close()
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "done exit status 3") {
		t.Fatalf("the hook's output is not in the log: %q", b)
	}
	// That the background sleep is ended with the hook's process group is
	// reaper.Run's promise, tested there.
}

func TestCrashRecordKeepsTheLogTailAndJVMArtifacts(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "svc.out")
	var lines []string
	for i := range 80 {
		lines = append(lines, "line "+string(rune('a'+i%26)))
	}
	os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	since := time.Now().Add(-time.Second)
	os.WriteFile(filepath.Join(dir, "hs_err_pid42.log"), []byte("SIGSEGV"), 0o644)
	old := filepath.Join(dir, "java_pid1.hprof")
	os.WriteFile(old, nil, 0o644)
	os.Chtimes(old, since.Add(-time.Hour), since.Add(-time.Hour))
	c := crashRecord(logPath, dir, proc.ExitStatus{Signal: "SEGV"}, since)
	if len(c.LogTail) != CrashLogLines || c.LogTail[CrashLogLines-1] != lines[79] {
		t.Errorf("log tail: %d lines ending %q", len(c.LogTail), c.LogTail[len(c.LogTail)-1])
	}
	if len(c.Artifacts) != 1 || filepath.Base(c.Artifacts[0]) != "hs_err_pid42.log" {
		t.Errorf("artifacts %v: want only the one written since the start", c.Artifacts)
	}
}

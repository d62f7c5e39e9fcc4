package lifecycle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
	"github.com/daemonctl/daemonctl/internal/supervisor"
)

// superviseHere runs the supervisor of a one-service config in this
// process, and returns a Manager that sends it its requests.
func superviseHere(t *testing.T) *Manager {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "daemonctl.yaml")
	yaml := "services:\n  web:\n    command: [sleep, \"60\"]\n    start_grace: 50ms\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- supervisor.Serve(ctx, func() (*config.Config, error) { return config.Load(path) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("supervisor: %v", err)
		}
	})
	m := New(cfg, []string{"PATH=" + os.Getenv("PATH")}, nil, SupervisorCommand{})
	m.sup.Spawn = func() error { return nil } // it is already starting
	return m
}

// stopRecordsTheExit starts web, stops it, and checks that the stop
// recorded the exit itself (the monitor had nothing to write, and was
// not asked to go), and that the monitor left.
func stopRecordsTheExit(t *testing.T, m *Manager) {
	t.Helper()
	ctx := context.Background()
	if err := m.Start(ctx, []string{"web"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if rec, _ := m.store.Read("web"); rec != nil {
			rec.Tree().Stop(ctx, unix.SIGKILL, time.Second, time.Second)
		}
	})
	if err := m.Stop(ctx, []string{"web"}, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	rec, err := m.store.Read("web")
	if err != nil || rec.Phase != state.PhaseStopped || rec.LastExit == nil || *rec.LastExit != proc.FromSignal(unix.SIGTERM) {
		t.Fatalf("record after the stop: %+v, %v; want stopped, killed by TERM", rec, err)
	}
	written := recordInode(t, m)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, err := m.sup.Stats(); err == nil && st.Monitors == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the monitor did not leave after the stop")
		}
	}
	if recordInode(t, m) != written {
		t.Fatal("the monitor wrote the record again after the stop")
	}
}

func recordInode(t *testing.T, m *Manager) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(m.store.RecordPath("web"), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestAStopReadsTheExitOffTheLeadersPidfd(t *testing.T) {
	if !kernelTellsExits(t) {
		t.Skip("this kernel keeps no exit for pidfds (Linux 6.15)")
	}
	told := 0
	defer func(f func(context.Context, *proc.Handle) (proc.ExitStatus, bool)) { exitFromKernel = f }(exitFromKernel)
	fromKernel := exitFromKernel
	exitFromKernel = func(ctx context.Context, h *proc.Handle) (proc.ExitStatus, bool) {
		exit, ok := fromKernel(ctx, h)
		if ok {
			told++
		}
		return exit, ok
	}
	stopRecordsTheExit(t, superviseHere(t))
	if told != 1 {
		t.Fatalf("the kernel told %d exits, want the leader's", told)
	}
}

func TestAStopRecordsTheExitWhereTheKernelDoesNotTellIt(t *testing.T) {
	defer func(f func(context.Context, *proc.Handle) (proc.ExitStatus, bool)) { exitFromKernel = f }(exitFromKernel)
	exitFromKernel = func(context.Context, *proc.Handle) (proc.ExitStatus, bool) { return proc.ExitStatus{}, false }
	stopRecordsTheExit(t, superviseHere(t))
}

// kernelTellsExits reports whether WaitReaped tells this test the exit
// of a child it reaped.
func kernelTellsExits(t *testing.T) bool {
	id, err := proc.Spawn(proc.Spec{Argv: []string{"sleep", "60"}, Dir: "/", Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := proc.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.Signal(unix.SIGKILL)
	unix.Wait4(id.PID, nil, 0, nil)
	_, err = h.WaitReaped(context.Background())
	return !errors.Is(err, proc.ErrNoExitInfo)
}

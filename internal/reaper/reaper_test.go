package reaper

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
)

func startReaper(t *testing.T) *Reaper {
	t.Helper()
	r, err := Start()
	if err != nil {
		t.Fatalf("start reaper: %v", err)
	}
	if again, _ := Start(); again != r {
		t.Fatal("a second Start made a second reaper, which would reap the first one's children")
	}
	return r
}

// launch starts argv through the reaper, in a process group of its own as
// the supervisor's services are (in a session of their own).
func launch(t *testing.T, r *Reaper, argv ...string) <-chan proc.ExitStatus {
	t.Helper()
	exited, err := r.Launch(func() (int, error) {
		return syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
			Files: []uintptr{0, 1, 2},
			Sys:   &syscall.SysProcAttr{Setsid: true},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return exited
}

func TestLaunchedExitIsDelivered(t *testing.T) {
	r := startReaper(t)
	select {
	case exit := <-launch(t, r, "/bin/sh", "-c", "exit 7"):
		if exit.Code != 7 {
			t.Fatalf("exit %v, want code 7", exit)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit delivered")
	}
	select {
	case exit := <-launch(t, r, "/bin/sh", "-c", "kill -TERM $$"):
		if exit.Signal != "TERM" {
			t.Fatalf("exit %v, want signal TERM", exit)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit delivered")
	}
}

// The reaper takes no exit from anybody else's Wait: exec probes and hooks
// run through Run, and plain os/exec commands of other code in the
// process, all while services keep exiting and orphaning children that the
// reaper must collect.
func TestNoExitIsStolen(t *testing.T) {
	r := startReaper(t)
	n := 1000
	if testing.Short() {
		n = 100
	}
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() {
		// Services that orphan a child each, keeping the reaper busy.
		for {
			select {
			case <-stop:
				return
			default:
			}
			<-launch(t, r, "/bin/sh", "-c", "true & exit 0")
		}
	})
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	fail := func(what string, err error) {
		mu.Lock()
		failed = append(failed, what+": "+err.Error())
		mu.Unlock()
	}
	wg.Go(func() {
		for range n {
			cmd := Command(context.Background(), []string{"true"}, "", nil)
			if err := r.Run(cmd); err != nil {
				fail("helper", err)
			}
		}
	})
	wg.Go(func() {
		for range n {
			if err := exec.Command("true").Run(); err != nil {
				fail("os/exec", err)
			}
		}
	})
	wg.Wait()
	close(stop)
	churn.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d commands lost their exit, e.g. %s", len(failed), 2*n, failed[0])
	}
	waitNoZombies(t)
}

// waitNoZombies fails if a child of this process stays a zombie: the
// reaper collects orphans too.
func waitNoZombies(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var zombies []int
		for _, pid := range children() {
			if info, err := proc.Inspect(pid); err == nil && info.Zombie {
				zombies = append(zombies, pid)
			}
		}
		if len(zombies) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("zombies left: %v", zombies)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A hook that leaves a child holding its output returns at its timeout,
// not when the child ends, and the child does not outlive it.
func TestRunReturnsAtTimeout(t *testing.T) {
	r := startReaper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	marker := t.TempDir() + "/child"
	cmd := Command(ctx, []string{"/bin/sh", "-c", "sleep 40 & echo $! > " + marker + "; wait"}, "", nil)
	var out strings.Builder
	cmd.Stdout = &out
	began := time.Now()
	err := r.Run(cmd)
	took := time.Since(began)
	if err == nil {
		t.Fatal("a hook killed at its timeout reported success")
	}
	if took > 300*time.Millisecond+HelperWaitDelay+time.Second {
		t.Fatalf("Run took %s with a 300ms timeout", took)
	}
	assertGone(t, marker)
}

// The hook of the issue: it exits at once, leaving `sleep 40` holding its
// output. Run returns within HelperWaitDelay of its exit, and the sleep
// is ended with its group.
func TestRunDoesNotWaitForBackgroundChild(t *testing.T) {
	r := startReaper(t)
	marker := t.TempDir() + "/child"
	cmd := Command(context.Background(), []string{"/bin/sh", "-c", "sleep 40 & echo $! > " + marker + "; echo done"}, "", nil)
	var out strings.Builder
	cmd.Stdout = &out
	began := time.Now()
	r.Run(cmd)
	if took := time.Since(began); took > HelperWaitDelay+2*time.Second {
		t.Fatalf("Run took %s: it waited for the background child", took)
	}
	if !strings.Contains(out.String(), "done") {
		t.Fatalf("output %q lost", out.String())
	}
	assertGone(t, marker)
}

// assertGone fails unless the process named in pidFile has exited, or
// does within 5s.
func assertGone(t *testing.T, pidFile string) {
	t.Helper()
	pid, err := pidfile.ReadPID(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if proc.WaitGone(ctx, pid) != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("background child %d outlived its command", pid)
	}
}

package proc

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func needExitInfo(t *testing.T) {
	t.Helper()
	if !exitInfoSupported() {
		var u unix.Utsname
		unix.Uname(&u)
		t.Skipf("kernel %s keeps no exit for pidfds (Linux 6.15)", unix.ByteSliceToString(u.Release[:]))
	}
}

// A server another process started and reaps: the shell is its parent,
// and this test only holds a pidfd.
func TestWaitReapedTellsTheExitOfAProcessAnotherReaps(t *testing.T) {
	needExitInfo(t)
	sh := exec.Command("/bin/sh", "-c", "sleep 100 & echo $!; wait")
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	info, err := Inspect(pid)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(info.Identity)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exit, err := h.WaitReaped(ctx)
	if err != nil || exit != FromSignal(unix.SIGTERM) {
		t.Fatalf("WaitReaped: %v, %v; want killed by TERM", exit, err)
	}
}

// An exited process its parent has not reaped yet has no exit to tell:
// WaitReaped waits for the reap.
func TestWaitReapedWaitsForTheReap(t *testing.T) {
	needExitInfo(t)
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	id, err := Spawn(Spec{Argv: []string{"/bin/sh", "-c", "exec sleep 100"}, Dir: "/", Env: []string{"PATH=/bin:/usr/bin"}, Stdout: devnull, Stderr: devnull})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.Signal(unix.SIGKILL)
	if err := WaitAll(context.Background(), []*Handle{h}); err != nil {
		t.Fatal(err)
	}
	zombie, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if exit, err := h.WaitReaped(zombie); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReaped of a zombie: %v, %v; want it to wait until the deadline", exit, err)
	}
	if _, err := unix.Wait4(id.PID, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	exit, err := h.WaitReaped(context.Background())
	if err != nil || exit != FromSignal(unix.SIGKILL) {
		t.Fatalf("WaitReaped after the reap: %v, %v; want killed by KILL", exit, err)
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, tt := range []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v1147", true},
		{"6.15.0", true},
		{"6.15-rc1", true},
		{"7.0.0", true},
		{"6.14.11-300.fc42.x86_64", false},
		{"5.15.0-91-generic", false},
		{"6", false},
		{"", false},
	} {
		if got := kernelAtLeast(tt.release, 6, 15); got != tt.want {
			t.Errorf("kernelAtLeast(%q, 6, 15) = %v, want %v", tt.release, got, tt.want)
		}
	}
}

// A wait whose context has ended sets the pidfd's deadline on a
// goroutine of its own, which may run after the wait returned (here at
// once: the process is gone and reaped) and the caller closed the
// handle: it must not touch the handle then (go test -race).
func TestAnEndedWaitLeavesTheClosedHandleAlone(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for range 10 {
		id, err := Spawn(Spec{Argv: []string{"sleep", "100"}, Dir: "/", Env: []string{"PATH=/bin:/usr/bin"}})
		if err != nil {
			t.Fatal(err)
		}
		h, err := Open(id)
		if err != nil {
			t.Fatal(err)
		}
		h.Signal(unix.SIGKILL)
		unix.Wait4(id.PID, nil, 0, nil)
		WaitAll(ended, []*Handle{h})
		h.WaitReaped(ended)
		h.Close()
	}
}

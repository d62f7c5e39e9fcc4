package main

import (
	"bytes"
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// raceDuration is how long TestRandomClients runs; DAEMONCTL_RACE_SECONDS
// overrides it.
const raceDuration = 45 * time.Second

// Ten clients, each a daemonctl process, start, stop, restart and kill -9
// one service at random. Throughout, at most one instance of it ever runs;
// at the end the service is still supervised (a kill -9 is followed by a
// restart, and its output still reaches its log) and, once stopped,
// nothing of it is left.
func TestRandomClients(t *testing.T) {
	d := raceDuration
	if s := os.Getenv("DAEMONCTL_RACE_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		d = time.Duration(n) * time.Second
	}
	if testing.Short() {
		d = 5 * time.Second
	}
	r := newRig(t, `services:
  web:
    command: [testserver, -tick, 20ms]
    restart: always
    restart_delay: 50ms
    start_grace: 50ms
    stop_timeout: 5s
`, nil)
	self, _ := os.Executable()
	s := r.cfg.Services["web"]
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var most atomic.Int32
	var seen string // the instances, when more than one ran at once
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ctx.Err() == nil {
			live := stillRunning(r.liveTagged("DAEMONCTL_SERVICE=web"))
			if n := int32(len(live)); n > most.Load() {
				most.Store(n)
				seen = describe(live)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var ops [4]atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for ctx.Err() == nil {
				op := mathrand.IntN(4)
				ops[op].Add(1)
				switch op {
				case 3:
					if pid, err := pidfile.ReadPID(s.PidFile); err == nil {
						syscall.Kill(pid, syscall.SIGKILL)
					}
					time.Sleep(20 * time.Millisecond)
				default:
					cmd := exec.Command(self, []string{"start", "stop", "restart"}[op], "web")
					cmd.Args[0] = "daemonctl"
					cmd.Env = r.environ
					cmd.Run() // a start racing a kill may fail: the invariants are what count
				}
			}
		})
	}
	wg.Wait()
	<-watched
	t.Logf("operations start/stop/restart/kill: %d/%d/%d/%d", ops[0].Load(), ops[1].Load(), ops[2].Load(), ops[3].Load())
	if n := most.Load(); n > 1 {
		t.Fatalf("%d instances of web ran at once: %s", n, seen)
	}
	// A monitor only leaves a running service when it is told to go
	// without a stop: here, only by a stop's release that hit the monitor
	// of a start that came after it.
	if b, _ := os.ReadFile(s.LogFile); bytes.Contains(b, []byte("monitor leaving")) {
		t.Fatalf("a running instance lost its monitor:\n%s", lastLines(b, "monitor leaving"))
	}

	// Still supervised: started (or found running), it comes back after a
	// kill -9, and its output goes on reaching its log.
	r.start("web")
	first := r.leader("web")
	syscall.Kill(first, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pid := r.leader("web"); pid != 0 && pid != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed web (pid %d) was not restarted: its monitor was lost", first)
		}
		time.Sleep(20 * time.Millisecond)
	}
	size := func() int64 { fi, _ := os.Stat(s.LogFile); return fi.Size() }
	before := size()
	deadline = time.Now().Add(5 * time.Second)
	for size() == before {
		if time.Now().After(deadline) {
			t.Fatal("web's log stopped growing: nobody reads its output")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stop("web")
	r.noLeftovers("DAEMONCTL_SERVICE=web")
}

// stillRunning returns those of pids that still run once a scan of
// /proc is done. A scan reads one process after another: an instance
// that ended during it and the next one, begun during it, are both in it
// without ever having run at once. Two that both still run after it did
// run at once.
func stillRunning(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if info, err := proc.Inspect(pid); err == nil && !info.Zombie {
			out = append(out, pid)
		}
	}
	return out
}

// describe names processes for a failure: pid, parent, start and
// command line.
func describe(pids []int) string {
	var out []string
	for _, pid := range pids {
		info, _ := proc.Inspect(pid)
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, fmt.Sprintf("pid %d (parent %d, started at tick %d): %s", pid, info.PPID, info.StartTicks, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})))
	}
	return strings.Join(out, "; ")
}

// lastLines returns the line of b holding mark and the two before it.
func lastLines(b []byte, mark string) string {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.Contains(l, mark) {
			return strings.Join(lines[max(0, i-2):i+1], "\n")
		}
	}
	return ""
}

// leader is the pid of service name's running instance, 0 if none runs.
func (r *rig) leader(name string) int {
	sts, err := r.m.Status([]string{name})
	if err != nil || sts[0].State != state.Running || sts[0].PID == nil {
		return 0
	}
	return *sts[0].PID
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/supervisor"
)

// The endurance tests drive the lifecycle package in this process, as a Go
// program embedding daemonctl would, against real processes and a real
// supervisor (this test binary re-run as `daemonctl __supervisor`). They
// look for what only shows after many operations: file descriptors,
// goroutines or heap kept per start, zombies left unreaped, processes left
// running after their stop.

// enduranceCycles is how many start/stop cycles TestEnduranceCycles runs;
// DAEMONCTL_ENDURANCE_CYCLES overrides it.
const enduranceCycles = 1000

// rig is one endurance run: a config in a fresh directory, a manager for
// it, and the tag every process of the run carries.
type rig struct {
	t       *testing.T
	dir     string
	tag     string
	cfg     *config.Config
	m       *lifecycle.Manager
	sup     *supervisor.Client
	environ []string
	// supervisor is the pid of the run's supervisor, which a service
	// started first keeps up for the whole run.
	supervisor int
}

// newRig writes the config (with ${VAR} taken from vars) and returns a rig
// whose processes are all killed when the test ends.
func newRig(t *testing.T, yaml string, vars map[string]string) *rig {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"daemonctl", "testserver"} {
		if err := os.Symlink(self, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "daemonctl.yaml")
	text := os.Expand(yaml, func(k string) string { return vars[k] })
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, tag: randomHex(), cfg: cfg}
	r.environ = append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"),
		tagVar+"="+r.tag,
		config.EnvVar+"="+path,
		"GORACE=atexit_sleep_ms=0",
	)
	monitor := lifecycle.SupervisorCommand{Path: self, Args: []string{"daemonctl", "--config", path, "__supervisor"}}
	r.m = lifecycle.New(cfg, r.environ, nil, monitor)
	r.sup = &supervisor.Client{RunDir: cfg.RunDir}
	t.Cleanup(func() { killTagged(r.tag) })
	return r
}

// startAnchor starts the service that keeps the supervisor up throughout
// the run, and notes the supervisor.
func (r *rig) startAnchor() {
	r.t.Helper()
	r.start("anchor")
	r.supervisor = r.stats().PID
}

func (r *rig) start(names ...string) {
	r.t.Helper()
	if err := r.m.Start(context.Background(), names); err != nil {
		sup, _ := os.ReadFile(filepath.Join(r.cfg.LogDir, "supervisor.log"))
		r.t.Fatalf("start %v: %v\nsupervisor.log:\n%s", names, err, sup)
	}
}

func (r *rig) stop(names ...string) {
	r.t.Helper()
	if err := r.m.Stop(context.Background(), names, lifecycle.StopOptions{}); err != nil {
		r.t.Fatalf("stop %v: %v", names, err)
	}
}

// stats asks the run's supervisor what it holds.
func (r *rig) stats() supervisor.Stats {
	r.t.Helper()
	st, err := r.sup.Stats()
	if err != nil || st == nil {
		r.t.Fatalf("supervisor stats: %v (running: %v)", err, st != nil)
	}
	return *st
}

// holdings is what a long-lived process holds that a leak would grow.
type holdings struct {
	fds        int
	goroutines int
	heap       uint64
	threads    int // reported, not checked: the runtime keeps its threads
}

func (h holdings) String() string {
	return fmt.Sprintf("%d fds, %d goroutines, %d KiB live heap, %d threads", h.fds, h.goroutines, h.heap>>10, h.threads)
}

// supervisorHoldings reads the supervisor's fds from /proc (not its own
// word for it), then its goroutines and heap from its stats. The fds are
// counted first: the connection that asks for the stats is closed just
// after it is answered.
func (r *rig) supervisorHoldings() holdings {
	fds := countFDs(r.t, r.supervisor)
	st := r.stats()
	if st.PID != r.supervisor {
		r.t.Fatalf("the supervisor changed during the run: %d, then %d", r.supervisor, st.PID)
	}
	return holdings{fds: fds, goroutines: st.Goroutines, heap: st.HeapAlloc, threads: countThreads(r.supervisor)}
}

// selfHoldings is the same for this process: the manager's side.
func selfHoldings(t *testing.T) holdings {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return holdings{fds: countFDs(t, os.Getpid()), goroutines: runtime.NumGoroutine(), heap: ms.HeapAlloc, threads: countThreads(os.Getpid())}
}

func countFDs(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("fds of %d: %v", pid, err)
	}
	return len(fds)
}

func countThreads(pid int) int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(tasks)
}

const (
	// heapSlack is the live heap a run may add without that being a leak:
	// less than 70 bytes a cycle over a thousand cycles.
	heapSlack = 64 << 10
	// threadHeap is the heap the Go runtime allocates for each OS thread
	// it starts (about 6 KiB measured here, under the race detector) and
	// never frees. It starts one when more goroutines sit in system calls
	// at once than ever before: a high-water mark, not a leak.
	threadHeap = 8 << 10
)

// within reports whether h holds no more than base did: no more fds or
// goroutines, and no more heap than the slack and the threads started
// since account for.
func (h holdings) within(base holdings) bool {
	allowed := base.heap + heapSlack + threadHeap*uint64(max(h.threads-base.threads, 0))
	return h.fds <= base.fds && h.goroutines <= base.goroutines && h.heap <= allowed
}

// settled waits (up to 10s) until read gives what base held or less:
// what a finished operation frees may take a moment to go.
func settled(t *testing.T, who string, base holdings, read func() holdings) holdings {
	t.Helper()
	var now holdings
	for deadline := time.Now().Add(10 * time.Second); ; {
		now = read()
		if now.within(base) {
			return now
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s grew: %v at the start, %v at the end", who, base, now)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveTagged lists the live processes of the run carrying the extra
// environment entry mark (any, when empty).
func (r *rig) liveTagged(mark string) []int {
	extra := []byte(mark + "\x00")
	return tagged(r.tag, func(_ string, env []byte) bool { return mark == "" || bytes.Contains(env, extra) })
}

// zombiesOf lists the unreaped children of parent.
func zombiesOf(parent int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if info, err := proc.Inspect(pid); err == nil && info.Zombie && info.PPID == parent {
			pids = append(pids, pid)
		}
	}
	return pids
}

// noLeftovers fails unless, within a few seconds, no process of the run
// marked mark runs and neither the supervisor nor this process has an
// unreaped child.
func (r *rig) noLeftovers(mark string) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := r.liveTagged(mark)
		zombies := append(zombiesOf(r.supervisor), zombiesOf(os.Getpid())...)
		if len(left) == 0 && len(zombies) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after stop: processes %v still run, zombies %v unreaped", left, zombies)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func enduranceCount(t *testing.T) int {
	n := enduranceCycles
	if v := os.Getenv("DAEMONCTL_ENDURANCE_CYCLES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("DAEMONCTL_ENDURANCE_CYCLES: %v", err)
		}
	}
	return n
}

// TestEnduranceCycles starts and stops one server a thousand times, next
// to a service that keeps the supervisor up throughout. The server forks
// a daemon that leaves its session, so each stop has a whole tree to find.
// After every stop nothing of it may run and nothing may wait to be
// reaped; at the end the supervisor and this process hold no more than
// they did after the first few cycles.
func TestEnduranceCycles(t *testing.T) {
	cycles := enduranceCount(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, `
services:
  anchor:
    command: [testserver]
    start_grace: 0s
  cycled:
    command: [testserver, -listen, "127.0.0.1:${PORT}", -double-fork, daemon.pid]
    ready: {tcp: "127.0.0.1:${PORT}"}
    env: {CYCLED: "1"}
`, map[string]string{"PORT": strconv.Itoa(port)})
	r.startAnchor()

	const warmup = 20
	var superBase, selfBase holdings
	began := time.Now()
	for i := 1; i <= cycles; i++ {
		r.start("cycled")
		r.stop("cycled")
		r.noLeftovers("CYCLED=1")
		if i == min(warmup, cycles) {
			superBase, selfBase = r.supervisorHoldings(), selfHoldings(t)
			began = time.Now()
		}
	}
	superEnd := settled(t, "supervisor", superBase, r.supervisorHoldings)
	selfEnd := settled(t, "manager", selfBase, func() holdings { return selfHoldings(t) })
	t.Logf("%d cycles, %.1f ms each after warm-up", cycles, float64(time.Since(began).Milliseconds())/float64(max(cycles-warmup, 1)))
	t.Logf("supervisor: after %d cycles %v; at the end %v", warmup, superBase, superEnd)
	t.Logf("manager: after %d cycles %v; at the end %v", warmup, selfBase, selfEnd)
	r.stop()
	r.noLeftovers("")
}

// TestEnduranceStorm starts and stops a hundred servers at once, again and
// again, while four callers run `daemonctl status --json` without pause.
// Every status must answer with all hundred services in a state that
// belongs to a start or a stop (never dead, failed or unknown); afterwards
// nothing is left running or unreaped and the supervisor holds what it
// held before the storm.
func TestEnduranceStorm(t *testing.T) {
	const services, rounds, warmup, callers = 100, 6, 3, 4
	var yaml strings.Builder
	yaml.WriteString("services:\n  anchor:\n    command: [testserver]\n    start_grace: 0s\n")
	var names []string
	for i := range services {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("s%03d", i)
		names = append(names, name)
		fmt.Fprintf(&yaml, "  %s:\n    command: [testserver, -listen, \"127.0.0.1:%d\"]\n    ready: {tcp: \"127.0.0.1:%d\"}\n    env: {STORM: \"1\"}\n", name, port, port)
	}
	r := newRig(t, yaml.String(), nil)
	r.startAnchor()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	calls := make([]int, callers)
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := r.checkStatus(services + 1); err != nil {
					errs <- err
					return
				}
				calls[c]++
			}
		})
	}
	// The first rounds are the warm-up: a hundred monitors at once take
	// the supervisor's maps and the runtime's threads (each a few KiB of
	// heap the runtime never frees) to their high-water mark, which later
	// rounds must not raise.
	var superBase, selfBase holdings
	for i := 1; i <= rounds; i++ {
		r.start(names...)
		r.stop(names...)
		r.noLeftovers("STORM=1")
		if i == warmup {
			superBase, selfBase = r.supervisorHoldings(), selfHoldings(t)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	superEnd := settled(t, "supervisor", superBase, r.supervisorHoldings)
	selfEnd := settled(t, "manager", selfBase, func() holdings { return selfHoldings(t) })
	t.Logf("%d rounds of %d services; status calls: %v", rounds, services, calls)
	t.Logf("supervisor: after round %d %v; after round %d %v", warmup, superBase, rounds, superEnd)
	t.Logf("manager: after round %d %v; after round %d %v", warmup, selfBase, rounds, selfEnd)
	r.stop()
	r.noLeftovers("")
}

// checkStatus runs `daemonctl status --json` as a user would and checks
// that it answers for want services, each in a state a start or stop
// passes through.
func (r *rig) checkStatus(want int) error {
	self, _ := os.Executable()
	cmd := exec.Command(self, "status", "--json")
	cmd.Args[0] = "daemonctl"
	cmd.Dir = r.dir
	cmd.Env = r.environ
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		return fmt.Errorf("status: %v\n%s", err, out)
	}
	var got struct {
		Services []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"services"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("status: %v\n%s", err, out)
	}
	if len(got.Services) != want {
		return fmt.Errorf("status: %d services, want %d", len(got.Services), want)
	}
	for _, s := range got.Services {
		switch s.State {
		case "running", "starting", "stopping", "stopped":
		default:
			return fmt.Errorf("status: %s is %s in the middle of a start or stop", s.Name, s.State)
		}
	}
	return nil
}

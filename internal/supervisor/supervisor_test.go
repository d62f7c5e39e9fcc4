package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// serve runs a supervisor in this process for a config of one service,
// and returns a client of it.
func serve(t *testing.T) (*Client, *config.Config) {
	t.Helper()
	dir := t.TempDir()
	yaml := "services:\n  web:\n    command: [sleep, \"60\"]\n    start_grace: 50ms\n"
	path := filepath.Join(dir, "daemonctl.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.LogDir, 0o755) // as start's pre-flight does
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, func() (*config.Config, error) { return config.Load(path) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	// The supervisor is already starting: the client waits for it.
	return &Client{RunDir: cfg.RunDir, Spawn: func() error { return nil }}, cfg
}

// A start as package lifecycle makes it: the request, the record naming
// the claim, then the report of the first launch.
func TestStartRequestLaunchesAndReports(t *testing.T) {
	c, cfg := serve(t)
	store := state.Store{Dir: cfg.RunDir}
	req, o := start(t, c, cfg)

	// A release for another request's claim (a stop that raced a later
	// start) leaves this monitor be.
	if err := c.Release("web", "a claim from another start"); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Stats(); st.Monitors != 1 {
		t.Fatalf("a release for another claim let the monitor go: %+v", st)
	}

	// A stop as lifecycle does it: recorded, tree ended, monitor released.
	store.Update(context.Background(), "web", func(*state.Record) bool { return true }, (*state.Record).RequestStop)
	if _, err := o.Record.Tree().Stop(context.Background(), unix.SIGTERM, 5*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Release("web", req.Claim); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats()
	if err != nil || st.Monitors != 0 {
		t.Fatalf("after release: %+v %v, want no monitor", st, err)
	}
	rec, _ := store.Read("web")
	if rec.LastExit == nil || rec.LastExit.Signal != "TERM" {
		t.Fatalf("the monitor did not record the exit: %+v", rec.LastExit)
	}
}

// A stop that is handed the exit records it along with the stop, under
// the lock it holds throughout; the monitor, finding it recorded, leaves
// without writing the record again.
func TestAStopIsHandedTheExit(t *testing.T) {
	c, cfg := serve(t)
	store := state.Store{Dir: cfg.RunDir}
	req, o := start(t, c, cfg)
	l, rec := claimStop(t, store)
	if _, err := rec.Tree().Stop(context.Background(), unix.SIGTERM, 5*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.HandOver("web", "a claim from another start", rec.Token); ok || err != nil {
		t.Fatalf("hand-over for another claim: ok %v, %v; want nothing", ok, err)
	}
	if _, ok, err := c.HandOver("web", req.Claim, "another instance"); ok || err != nil {
		t.Fatalf("hand-over for another instance: ok %v, %v; want nothing", ok, err)
	}
	exit, ok, err := c.HandOver("web", req.Claim, o.Record.Token)
	if err != nil || !ok || exit.Signal != "TERM" {
		t.Fatalf("hand-over: %+v, ok %v, %v; want killed by TERM", exit, ok, err)
	}
	finishStop(t, c, store, l, rec, exit)
}

// A stop can read the exit off the leader's pidfd once the monitor has
// reaped it (Linux 6.15), with no question to the supervisor: the
// monitor reaped the same status, finds it recorded, and leaves without
// writing the record again.
func TestAStopToldTheExitByTheKernelIsNotWrittenOver(t *testing.T) {
	c, cfg := serve(t)
	store := state.Store{Dir: cfg.RunDir}
	start(t, c, cfg)
	l, rec := claimStop(t, store)
	leader, err := proc.Open(rec.Leader)
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()
	if _, err := rec.Tree().Stop(context.Background(), unix.SIGTERM, 5*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	exit, err := leader.WaitReaped(ctx)
	if errors.Is(err, proc.ErrNoExitInfo) {
		t.Skip(err)
	}
	if err != nil || exit.Signal != "TERM" {
		t.Fatalf("exit from the kernel: %+v, %v; want killed by TERM", exit, err)
	}
	finishStop(t, c, store, l, rec, exit)
}

// claimStop takes web's lock and records that its stop was asked for,
// as a stop does before its first signal.
func claimStop(t *testing.T, store state.Store) (*pidfile.Lock, *state.Record) {
	t.Helper()
	l, err := store.Lock(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := store.Read("web")
	if err := rec.RequestStop(); err != nil {
		t.Fatal(err)
	}
	if err := store.Write("web", rec); err != nil {
		t.Fatal(err)
	}
	return l, rec
}

// finishStop records web stopped with exit, lets its lock go, and checks
// that the monitor, finding the exit recorded, leaves without writing
// the record again.
func finishStop(t *testing.T, c *Client, store state.Store, l *pidfile.Lock, rec *state.Record, exit proc.ExitStatus) {
	t.Helper()
	if err := rec.Exit(exit, nil); err != nil {
		t.Fatal(err)
	}
	if err := rec.MarkStopped(); err != nil {
		t.Fatal(err)
	}
	if err := store.Write("web", rec); err != nil {
		t.Fatal(err)
	}
	written := inode(t, store.RecordPath("web"))
	l.Release()
	waitNoMonitor(t, c)
	if got := inode(t, store.RecordPath("web")); got != written {
		t.Fatal("the monitor wrote the record again after the stop had recorded the exit")
	}
}

// waitNoMonitor waits until the supervisor runs no monitor.
func waitNoMonitor(t *testing.T, c *Client) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, err := c.Stats(); err == nil && st.Monitors == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the monitor did not leave after the stop")
		}
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// start launches web as package lifecycle does: the request, the record
// naming the claim, then the report of the first launch, which it checks.
func start(t *testing.T, c *Client, cfg *config.Config) (*Request, state.Observation) {
	t.Helper()
	store := state.Store{Dir: cfg.RunDir}
	s := cfg.Services["web"]
	// The caller holds the service's lock until the record names the
	// request's claim: the monitor waits for it before launching.
	l, err := store.Lock(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	req, err := c.Send(OpStart, "web", Caller{Environ: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	if req.Supervisor.PID != os.Getpid() {
		t.Fatalf("accepted by pid %d, want this process", req.Supervisor.PID)
	}
	rec, err := state.RequestStart(nil, state.Start{Service: "web", Supervisor: req.Supervisor, Claim: req.Claim, PidFile: s.PidFile, LogFile: s.LogFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Write("web", rec); err != nil {
		t.Fatal(err)
	}
	l.Release()
	kind, detail, err := req.Next()
	if err != nil || kind != AnswerLaunched {
		t.Fatalf("first report %q %q %v, want launched", kind, detail, err)
	}
	pid, _ := strconv.Atoi(detail)
	if kind, _, err := req.Next(); err != nil || kind != AnswerReady {
		t.Fatalf("second report %q %v, want ready", kind, err)
	}
	o := store.Observe("web", s.PidFile)
	if got, _ := o.Classify(); got != state.Running || o.Record.Leader.PID != pid {
		t.Fatalf("after ready: %s, leader %d, want running %d", got, o.Record.Leader.PID, pid)
	}
	if info, err := proc.Inspect(pid); err != nil || info.PPID != os.Getpid() {
		t.Fatalf("the service's parent is not the supervisor: %+v %v", info, err)
	}
	t.Cleanup(func() { req.Close() })
	return req, o
}

func TestBadRequestsAreRefused(t *testing.T) {
	c, _ := serve(t)
	if _, err := c.Send(OpStart, "nosuch", Caller{}); err == nil || !strings.Contains(err.Error(), `unknown service "nosuch"`) {
		t.Fatalf("start of an unknown service: %v", err)
	}
	conn, err := c.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	writeRequest(conn, request{Op: "reboot"})
	line := make([]byte, 200)
	n, _ := conn.Read(line)
	if got := string(line[:n]); !strings.HasPrefix(got, `error unknown request "reboot"`) {
		t.Fatalf("unknown op answered %q", got)
	}
	raw, err := dial(c.RunDir, SocketFile)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write([]byte("not json\n"))
	n, _ = raw.Read(line)
	if got := string(line[:n]); !strings.HasPrefix(got, "error bad request") {
		t.Fatalf("garbage answered %q", got)
	}
}

// Package supervise keeps services alive once they are started. One
// supervisor process per run_dir (daemonctl re-run as `__supervisor`) is
// the parent of every service started from that config, and a child
// subreaper, so it also reaps whatever a service orphans. For each service
// it runs a monitor: it writes the service's output to its rotated log,
// records every exit (with a crash record for unexpected ones), runs the
// readiness probe, and restarts the service as its restart policy says,
// with backoff and a limit. It never stops a service itself: `stop`
// signals the tree and records that it did, and the monitor, seeing that,
// ends.
//
// One process rather than one per service: a Go process costs about
// 2.5 MB of private memory however little it does, so a process per
// service would cost more than supervisord. Crash safety does not depend
// on it: services hold their own output pipe's read end, so if the
// supervisor dies they keep running and writing, and the next supervisor
// adopts them and drains what they wrote meanwhile.
package supervise

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// IdleExit is how long a supervisor with nothing to supervise waits for a
// request before it exits.
const IdleExit = 3 * time.Second

// SocketName is the abstract unix socket (no file, so nothing stale is
// ever left) of the supervisor of runDir.
func SocketName(runDir string) string {
	sum := sha256.Sum256([]byte(runDir))
	return "@daemonctl-" + hex.EncodeToString(sum[:12])
}

// ServeOptions configure a supervisor.
type ServeOptions struct {
	// Load reads the config afresh, for each request.
	Load func() (*config.Config, error)
	// Env resolves a service's environment on top of the environment of
	// the command that asked for it.
	Env func(cfg *config.Config, s *config.Service, environ []string) ([]string, error)
}

type supervisor struct {
	ServeOptions
	self     proc.Identity
	reaper   *reaper
	mu       sync.Mutex
	monitors map[string]*running
	activity chan struct{}
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Serve runs the supervisor of cfg's run_dir until it has had nothing to
// supervise for IdleExit, or it is told to go (SIGTERM): services keep
// running then, to be adopted by the next supervisor. If another
// supervisor serves the run_dir already, Serve returns at once.
func Serve(ctx context.Context, opts ServeOptions) error {
	cfg, err := opts.Load()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return err
	}
	lock, err := tryLock(filepath.Join(cfg.RunDir, "supervisor.lock"))
	if err != nil || lock == nil {
		return err // nil lock: another supervisor holds it
	}
	defer lock.Close()
	ln, err := net.Listen("unix", SocketName(cfg.RunDir))
	if err != nil {
		return fmt.Errorf("supervisor socket: %w", err)
	}
	defer ln.Close()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	// Ignored here, so ignored in services too, as systemd's
	// IgnoreSIGPIPE= does by default.
	signal.Ignore(unix.SIGPIPE, unix.SIGHUP)
	ctx, stop := signal.NotifyContext(ctx, unix.SIGTERM, unix.SIGINT)
	defer stop()
	self, err := proc.Inspect(os.Getpid())
	if err != nil {
		return err
	}
	opts.Load = cachedLoad(opts.Load, cfg)
	sv := &supervisor{ServeOptions: opts, self: self.Identity, reaper: startReaper(), monitors: map[string]*running{}, activity: make(chan struct{}, 1)}
	go sv.accept(ctx, ln)
	sv.adoptOrphans(ctx, cfg)
	sv.waitIdle(ctx)
	sv.stopAll()
	return nil
}

// cachedLoad wraps load so that the config is parsed again only when its
// file changed: a start of a hundred services is a hundred requests.
func cachedLoad(load func() (*config.Config, error), cfg *config.Config) func() (*config.Config, error) {
	var (
		mu     sync.Mutex
		cached = cfg
		stamp  = fileStamp(cfg.Path)
	)
	return func() (*config.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		if now := fileStamp(cached.Path); now == stamp {
			return cached, nil
		}
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		cached, stamp = cfg, fileStamp(cfg.Path)
		return cached, nil
	}
}

func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
}

func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, err
	}
	return f, nil
}

// adoptOrphans takes over every service of the config that runs while the
// supervisor recorded for it is gone: a supervisor died, and this is the
// next one.
func (sv *supervisor) adoptOrphans(ctx context.Context, cfg *config.Config) {
	store := pidfile.Store{Dir: cfg.RunDir}
	for _, name := range cfg.Order {
		st, err := store.Read(name)
		if err != nil || st == nil || st.StopRequested() || st.Phase == pidfile.PhaseFailed || !st.Leader.Alive() {
			continue
		}
		if st.Monitor != nil && st.Monitor.Alive() {
			continue
		}
		if claim, ok := sv.claimOrphan(ctx, store, name, st.Token); ok {
			sv.launchMonitor(ctx, cfg, cfg.Services[name], nil, true, os.Environ(), claim)
		}
	}
}

// claimOrphan records this supervisor as the monitor of an orphaned
// service. A service whose lock is busy is left alone: whoever holds the
// lock is acting on it, and adopts it by request if need be.
func (sv *supervisor) claimOrphan(ctx context.Context, store pidfile.Store, name, token string) (string, bool) {
	lockCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	l, err := store.Lock(lockCtx, name)
	if err != nil {
		return "", false
	}
	defer l.Release()
	cur, err := store.Read(name)
	if err != nil || cur == nil || cur.Token != token || (cur.Monitor != nil && cur.Monitor.Alive()) {
		return "", false
	}
	claim := newToken()
	cur.Monitor, cur.Claim = &sv.self, claim
	return claim, store.Write(name, cur) == nil
}

// waitIdle returns when ctx ends or nothing has been supervised, and no
// request made, for IdleExit.
func (sv *supervisor) waitIdle(ctx context.Context) {
	timer := time.NewTimer(IdleExit)
	defer timer.Stop()
	settle := time.NewTimer(time.Hour)
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-settle.C:
			// A burst of requests is over: hand back what it left on the
			// heap, since the supervisor now mostly sleeps.
			debug.FreeOSMemory()
		case <-sv.activity:
			timer.Reset(IdleExit)
			settle.Reset(time.Second)
		case <-timer.C:
			sv.mu.Lock()
			idle := len(sv.monitors) == 0
			sv.mu.Unlock()
			if idle {
				return
			}
			timer.Reset(IdleExit)
		}
	}
}

func (sv *supervisor) touch() {
	select {
	case sv.activity <- struct{}{}:
	default:
	}
}

// stopAll ends every monitor (not its service) and waits for them.
func (sv *supervisor) stopAll() {
	sv.mu.Lock()
	var all []*running
	for _, r := range sv.monitors {
		r.cancel()
		all = append(all, r)
	}
	sv.mu.Unlock()
	for _, r := range all {
		<-r.done
	}
}

// launchMonitor runs a monitor for s in its own goroutine.
func (sv *supervisor) launchMonitor(ctx context.Context, cfg *config.Config, s *config.Service, report *conn, adopt bool, environ []string, claim string) {
	mctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, done: make(chan struct{})}
	sv.mu.Lock()
	if old := sv.monitors[s.Name]; old != nil {
		old.cancel() // superseded: it finds the record claimed by us and leaves
	}
	sv.monitors[s.Name] = r
	sv.mu.Unlock()
	opts := Options{
		Config:  cfg,
		Service: s,
		Env:     func(s *config.Service) ([]string, error) { return sv.Env(cfg, s, environ) },
		Adopt:   adopt,
	}
	if report != nil {
		opts.Report = report
	}
	go func() {
		defer close(r.done)
		defer cancel()
		runMonitor(mctx, opts, sv.reaper, sv.self, claim)
		sv.mu.Lock()
		if sv.monitors[s.Name] == r {
			delete(sv.monitors, s.Name)
		}
		sv.mu.Unlock()
		sv.touch()
	}()
}

// release ends the monitor of name, if any, and waits until it has.
func (sv *supervisor) release(name string) {
	sv.mu.Lock()
	r := sv.monitors[name]
	sv.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

func (sv *supervisor) accept(ctx context.Context, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sv.touch()
		go sv.serve(ctx, c.(*net.UnixConn))
	}
}

// request is what a command asks of the supervisor, as one JSON line.
type request struct {
	Op      string   `json:"op"` // start, adopt, release or stats
	Service string   `json:"service"`
	Environ []string `json:"environ,omitempty"` // the caller's environment
}

// serve answers one request.
func (sv *supervisor) serve(ctx context.Context, c *net.UnixConn) {
	cn := &conn{c: c}
	if err := checkPeer(c); err != nil {
		cn.line("error", err.Error())
		cn.Close()
		return
	}
	var req request
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err != nil {
		cn.line("error", "bad request")
		cn.Close()
		return
	}
	switch req.Op {
	case "release":
		sv.release(req.Service)
		cn.line("ok", "")
		cn.Close()
		return
	case "stats":
		answer, _ := json.Marshal(sv.stats())
		cn.line("ok", string(answer))
		cn.Close()
		return
	}
	cfg, err := sv.Load()
	if err == nil && cfg.Services[req.Service] == nil {
		err = fmt.Errorf("unknown service %q", req.Service)
	}
	if err == nil && req.Op != "start" && req.Op != "adopt" {
		err = fmt.Errorf("unknown request %q", req.Op)
	}
	if err != nil {
		cn.line("error", err.Error())
		cn.Close()
		return
	}
	// The caller holds the service's lock until it has recorded our claim,
	// so nothing here may wait for that lock: a monitor this request
	// supersedes is cancelled, not waited for.
	claim := newToken()
	answer, _ := json.Marshal(Accepted{Supervisor: sv.self, Claim: claim})
	cn.line("accepted", string(answer))
	s := cfg.Services[req.Service]
	if req.Op == "adopt" {
		sv.launchMonitor(ctx, cfg, s, nil, true, req.Environ, claim)
		cn.Close()
		return
	}
	sv.launchMonitor(ctx, cfg, s, cn, false, req.Environ, claim)
}

// Stats is what a supervisor holds, for finding leaks: a supervisor runs
// for as long as its services do, so anything it keeps per request or per
// restart adds up.
type Stats struct {
	PID        int    `json:"pid"`
	Monitors   int    `json:"monitors"`
	Goroutines int    `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc"` // live heap bytes, just after a collection
}

func (sv *supervisor) stats() Stats {
	sv.mu.Lock()
	monitors := len(sv.monitors)
	sv.mu.Unlock()
	// Twice: the first collection only moves sync.Pool contents aside,
	// the second frees them, so what is left is really held.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Stats{PID: os.Getpid(), Monitors: monitors, Goroutines: runtime.NumGoroutine(), HeapAlloc: ms.HeapAlloc}
}

// Accepted is the supervisor's answer to a start or adopt: who it is, and
// the claim the caller records so that this request's monitor, and no
// other, may write the service's record.
type Accepted struct {
	Supervisor proc.Identity `json:"supervisor"`
	Claim      string        `json:"claim"`
}

// checkPeer lets only the supervisor's own user, or root, give it orders:
// an abstract socket has no file permissions to do it.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var credErr error
	raw.Control(func(fd uintptr) { cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if credErr != nil {
		return credErr
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("uid %d may not use this supervisor", cred.Uid)
	}
	return nil
}

// conn is a request's connection, written to as a report.
type conn struct {
	mu sync.Mutex
	c  net.Conn
}

func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return len(p), nil
	}
	return c.c.Write(p)
}

func (c *conn) line(kind, detail string) { fmt.Fprintf(c, "%s %s\n", kind, detail) }

func (c *conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil
	}
	err := c.c.Close()
	c.c = nil
	return err
}

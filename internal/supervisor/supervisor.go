// Package supervisor is the process that keeps a run_dir's services
// alive once they are started: daemonctl re-run as `__supervisor`, one per
// run_dir. It is the parent of every service started from that config
// and a child subreaper (package reaper), so it also reaps whatever a
// service orphans, and it runs a monitor (package monitor) per service.
// Commands reach it over a unix socket (protocol.go, client.go).
//
// One process rather than one per service: a Go process costs about
// 2.5 MB of private memory however little it does, so a process per
// service would cost more than supervisord. Crash safety does not depend
// on it: a service's stdout reads its own output pipe too, so if the
// supervisor dies the service keeps running and writing, and the next
// supervisor takes it over and drains what it wrote meanwhile.
package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/monitor"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/reaper"
	"github.com/daemonctl/daemonctl/internal/state"
)

// IdleExit is how long a supervisor with nothing to supervise waits for a
// request before it exits.
const IdleExit = 3 * time.Second

type supervisor struct {
	opts     Options
	load     func() (*config.Config, error)
	self     proc.Identity
	reaper   *reaper.Reaper
	mu       sync.Mutex
	monitors map[string]*running
	activity chan struct{}
}

type running struct {
	claim  string // the request the monitor serves
	cancel context.CancelFunc
	done   chan struct{}
	// ended is set once, to the exit of the instance a stop ended (which
	// ends the monitor), and stopEnded is closed then: a hand-over
	// answers with it.
	endOnce   sync.Once
	ended     endedInstance
	stopEnded chan struct{}
}

// endedInstance is the exit of the instance token.
type endedInstance struct {
	token string
	exit  proc.ExitStatus
}

// stopEnd records the exit of the instance a stop ended.
func (r *running) stopEnd(token string, exit proc.ExitStatus) {
	r.endOnce.Do(func() {
		r.ended = endedInstance{token, exit}
		close(r.stopEnded)
	})
}

// handOverWait bounds how long a hand-over waits for the monitor to see
// the exit of an instance whose tree the stop found gone: the supervisor
// reaps it and drains its output at once, so it is there within
// milliseconds unless the monitor is busy elsewhere (waiting for the lock
// the stop holds, say). Past it the stop records no exit, and the
// monitor records it itself.
const handOverWait = 250 * time.Millisecond

// Serve runs the supervisor of the run_dir of the config load reads until
// it has had nothing to supervise for IdleExit, or it is told to go
// (SIGTERM): services keep running then, to be taken over by the next
// supervisor. If another supervisor serves the run_dir already, Serve
// returns at once. load is called again for requests once the config
// file changed.
func Serve(ctx context.Context, load func() (*config.Config, error)) error {
	return ServeWith(ctx, load, Options{})
}

// Options make a supervisor serve a foreground `daemonctl run`: the
// services' output goes where the run says, the run hears every event,
// and the supervisor stays until the run ends it.
type Options struct {
	// Output, if set, gives each monitor its output in place of the
	// service's rotated log.
	Output func(*config.Service) monitor.Output
	// Observer, if set, hears every event of every service.
	Observer monitor.Observer
	// Foreground: the supervisor serves until ctx ends, idle or not,
	// leaves SIGTERM and SIGINT to its caller, and serves the socket
	// named by Socket beside any other supervisor of the run_dir (each
	// supervises its own services; per-service locks keep them apart).
	Foreground bool
	Socket     string
	// Listening, if set, is closed once requests are served.
	Listening chan<- struct{}
	// Ended, if set, is called when a service's monitor ends: the service
	// stopped, failed, or is not to be restarted.
	Ended func(service string)
}

// ServeWith is Serve with options.
func ServeWith(ctx context.Context, load func() (*config.Config, error), opts Options) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return err
	}
	if err := state.CheckDirSafe(cfg.RunDir); err != nil {
		return err
	}
	rp, err := reaper.Start()
	if err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	// Ignored here, so ignored in services too, as systemd's
	// IgnoreSIGPIPE= does by default.
	resetSignals()
	if !opts.Foreground {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, unix.SIGTERM, unix.SIGINT)
		defer stop()
	}
	self, err := proc.Inspect(os.Getpid())
	if err != nil {
		return err
	}
	sv := &supervisor{opts: opts, load: cachedLoad(load, cfg), self: self.Identity, reaper: rp, monitors: map[string]*running{}, activity: make(chan struct{}, 1)}
	socket := SocketFile
	if opts.Foreground {
		socket = opts.Socket
	}
	ep, err := openEndpoint(cfg.RunDir, socket, !opts.Foreground, func(ln *net.UnixListener) { sv.accept(ctx, ln) })
	if err != nil || ep == nil {
		return err // nil endpoint: another supervisor holds run_dir
	}
	defer ep.Close()
	if opts.Listening != nil {
		close(opts.Listening)
	}
	if opts.Foreground {
		<-ctx.Done()
	} else {
		sv.takeOverOrphans(ctx, cfg)
		sv.waitIdle(ctx, ep)
	}
	sv.stopAll()
	return nil
}

// resetSignals sets what services inherit: a signal ignored here stays
// ignored across exec (signal(7)), a caught one is reset to its default.
// So every signal the supervisor may have been started with ignored
// (nohup ignores HUP) is caught here and dropped, and a service's `trap
// HUP` or a JVM's HUP handler works. SIGPIPE alone stays ignored, as
// systemd's IgnoreSIGPIPE= default has it, which servers written for
// systemd expect. (Their output pipe needs no such help: it never loses
// its last reader, see monitor's newPipe.)
func resetSignals() {
	signal.Ignore(unix.SIGPIPE)
	dropped := make(chan os.Signal, 1)
	signal.Notify(dropped, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM,
		unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGWINCH, unix.SIGIO)
	go func() {
		for range dropped {
		}
	}()
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

// takeOverOrphans takes over every service of the config that runs while
// the supervisor recorded for it is gone: a supervisor died, and this is
// the next one.
func (sv *supervisor) takeOverOrphans(ctx context.Context, cfg *config.Config) {
	store := state.Store{Dir: cfg.RunDir}
	for _, name := range cfg.Order {
		rec, err := store.Read(name)
		if err != nil || rec == nil || rec.StopRequested() || rec.Phase == state.PhaseFailed || !rec.Leader.Alive() || rec.SupervisorAlive() {
			continue
		}
		if claim, ok := sv.claimOrphan(ctx, store, name, rec.Token); ok {
			sv.launchMonitor(ctx, cfg, cfg.Services[name], nil, true, Caller{Environ: os.Environ()}, claim)
		}
	}
}

// claimOrphan records this supervisor as the one of an orphaned service.
// A service whose lock is busy is left alone: whoever holds the lock is
// acting on it, and asks for a take-over if need be.
func (sv *supervisor) claimOrphan(ctx context.Context, store state.Store, name, token string) (string, bool) {
	lockCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	l, err := store.Lock(lockCtx, name)
	if err != nil {
		return "", false
	}
	defer l.Release()
	cur, err := store.Read(name)
	if err != nil || cur == nil || cur.Token != token || cur.SupervisorAlive() {
		return "", false
	}
	claim := proc.NewToken()
	if cur.TakeOver(sv.self, claim) != nil {
		return "", false
	}
	return claim, store.Write(name, cur) == nil
}

// waitIdle returns when ctx ends or nothing has been supervised, and no
// request made, for IdleExit. Meanwhile it sees, every IdleExit, that
// commands can still reach the supervisor at ep.
func (sv *supervisor) waitIdle(ctx context.Context, ep *endpoint) {
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
			if rebound, err := ep.Repair(); err != nil {
				log.Printf("supervisor: its socket in run_dir was removed, and binding it again failed: %v", err)
			} else if rebound {
				log.Printf("supervisor: its socket in run_dir was removed: bound again")
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

// launchMonitor runs a monitor for s in its own goroutine; report, if
// set, hears its first launch.
func (sv *supervisor) launchMonitor(ctx context.Context, cfg *config.Config, s *config.Service, report *startReport, takeOver bool, caller Caller, claim string) {
	mctx, cancel := context.WithCancel(ctx)
	r := &running{claim: claim, cancel: cancel, done: make(chan struct{}), stopEnded: make(chan struct{})}
	sv.mu.Lock()
	if old := sv.monitors[s.Name]; old != nil {
		old.cancel() // superseded: it finds the record claimed by us and leaves
	}
	sv.monitors[s.Name] = r
	sv.mu.Unlock()
	opts := monitor.Options{
		Config:     cfg,
		Service:    s,
		Environ:    caller.Environ,
		Inherit:    caller.Inherit,
		Reload:     sv.load,
		Reaper:     sv.reaper,
		Supervisor: sv.self,
		Claim:      claim,
		TakeOver:   takeOver,
		StopEnded:  r.stopEnd,
	}
	if sv.opts.Output != nil {
		opts.Output = sv.opts.Output(s)
	}
	switch {
	case report != nil && sv.opts.Observer != nil:
		opts.Observer = observers{report, sv.opts.Observer}
	case report != nil:
		opts.Observer = report
	case sv.opts.Observer != nil:
		opts.Observer = sv.opts.Observer
	}
	go func() {
		defer close(r.done)
		defer cancel()
		monitor.Run(mctx, opts)
		if report != nil {
			report.end()
		}
		sv.mu.Lock()
		current := sv.monitors[s.Name] == r
		if current {
			delete(sv.monitors, s.Name)
		}
		sv.mu.Unlock()
		if current && sv.opts.Ended != nil && ctx.Err() == nil {
			sv.opts.Ended(s.Name) // not superseded, nor the supervisor going
		}
		sv.touch()
	}()
}

// release ends the monitor of name, if it serves claim, and waits until
// it has.
func (sv *supervisor) release(name, claim string) {
	if r := sv.monitorOf(name, claim); r != nil {
		r.cancel()
		<-r.done
	}
}

// monitorOf returns the monitor of name if it serves claim, else nil: a
// request of a stop is never about the monitor of a start that came
// after it.
func (sv *supervisor) monitorOf(name, claim string) *running {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if r := sv.monitors[name]; r != nil && r.claim == claim {
		return r
	}
	return nil
}

// handOver returns the exit of instance token of name, which a stop
// ended, once the monitor serving claim has it; false when it does not
// come within handOverWait, or the monitor ended without it.
func (sv *supervisor) handOver(name, claim, token string) (proc.ExitStatus, bool) {
	r := sv.monitorOf(name, claim)
	if r == nil {
		return proc.ExitStatus{}, false
	}
	timeout := time.NewTimer(handOverWait)
	defer timeout.Stop()
	select {
	case <-r.stopEnded:
	case <-r.done: // it may have ended after setting it
	case <-timeout.C:
	}
	select {
	case <-r.stopEnded:
		return r.ended.exit, r.ended.token == token
	default:
		return proc.ExitStatus{}, false
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

// serve answers one request.
func (sv *supervisor) serve(ctx context.Context, c *net.UnixConn) {
	if err := checkPeer(c); err != nil {
		writeAnswer(c, AnswerError, err.Error())
		c.Close()
		return
	}
	var req request
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	if err != nil {
		writeAnswer(c, AnswerError, "bad request")
		c.Close()
		return
	}
	switch req.Op {
	case OpRelease:
		sv.release(req.Service, req.Claim)
		writeAnswer(c, AnswerOK, "")
		c.Close()
	case OpHandOver:
		detail := ""
		if exit, ok := sv.handOver(req.Service, req.Claim, req.Token); ok {
			b, _ := json.Marshal(exit)
			detail = string(b)
		}
		writeAnswer(c, AnswerOK, detail)
		c.Close()
	case OpStats:
		answer, _ := json.Marshal(sv.stats())
		writeAnswer(c, AnswerOK, string(answer))
		c.Close()
	case OpStart, OpTakeOver:
		sv.monitorService(ctx, c, req)
	default:
		writeAnswer(c, AnswerError, fmt.Sprintf("unknown request %q", req.Op))
		c.Close()
	}
}

// monitorService answers a start or take-over: it accepts the request,
// then runs the service's monitor.
func (sv *supervisor) monitorService(ctx context.Context, c *net.UnixConn, req request) {
	cfg, err := sv.load()
	if err == nil && cfg.Services[req.Service] == nil {
		err = fmt.Errorf("unknown service %q", req.Service)
	}
	if err != nil {
		writeAnswer(c, AnswerError, err.Error())
		c.Close()
		return
	}
	// The caller holds the service's lock until it has recorded our claim,
	// so nothing here may wait for that lock: a monitor this request
	// supersedes is cancelled, not waited for.
	claim := proc.NewToken()
	answer, _ := json.Marshal(Accepted{Supervisor: sv.self, Claim: claim})
	writeAnswer(c, AnswerAccepted, string(answer))
	s := cfg.Services[req.Service]
	if req.Op == OpTakeOver {
		c.Close()
		sv.launchMonitor(ctx, cfg, s, nil, true, req.Caller, claim)
		return
	}
	sv.launchMonitor(ctx, cfg, s, &startReport{c: c}, false, req.Caller, claim)
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

// checkPeer lets only the supervisor's own user, or root, give it orders.
func checkPeer(c *net.UnixConn) error {
	uid, err := peerUID(c)
	if err != nil {
		return err
	}
	if !trusted(uid) {
		return fmt.Errorf("uid %d may not use this supervisor", uid)
	}
	return nil
}

// startReport tells the command waiting on a start how the first launch
// went: launched, then ready or failed. Later events are not its business.
type startReport struct {
	mu sync.Mutex
	c  net.Conn // nil once the report is over
}

// Observe implements monitor.Observer.
func (r *startReport) Observe(ev monitor.Event) {
	if !ev.First {
		r.end()
		return
	}
	switch ev.Kind {
	case state.Launched:
		r.say(AnswerLaunched, fmt.Sprint(ev.PID), false)
	case state.BecameReady:
		r.say(AnswerReady, "", true)
	case state.RestartScheduled:
		r.say(AnswerRetrying, ev.Detail, false)
	case state.GaveUp:
		r.say(AnswerFailed, ev.Detail, true)
	}
}

func (r *startReport) say(kind Answer, detail string, last bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == nil {
		return
	}
	writeAnswer(r.c, kind, detail)
	if last {
		r.c.Close()
		r.c = nil
	}
}

// end closes the report, if still open: the monitor has ended.
func (r *startReport) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		r.c.Close()
		r.c = nil
	}
}

// observers tells every one of them.
type observers []monitor.Observer

func (os observers) Observe(ev monitor.Event) {
	for _, o := range os {
		o.Observe(ev)
	}
}

// Package monitor supervises one service for as long as it should run: it
// launches it (or takes over one that runs already), writes its output
// line by line to its rotated log (or any Output), checks its readiness,
// records every exit (with a crash record for unexpected ones), runs its
// on_exit hook, and restarts it as its restart policy says. Every change
// goes through the service's record (package state) and is told to an
// Observer. It never stops a service itself: `stop` signals the tree and
// records that it did, and the monitor, seeing that, ends.
//
// The detached supervisor (package supervisor) runs one monitor per
// service; a foreground mode runs them in its own process with its own
// Observer and Output.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/backoff"
	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/crashpoint"
	"github.com/daemonctl/daemonctl/internal/drift"
	"github.com/daemonctl/daemonctl/internal/envfile"
	"github.com/daemonctl/daemonctl/internal/inherit"
	"github.com/daemonctl/daemonctl/internal/listen"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/privilege"
	"github.com/daemonctl/daemonctl/internal/probe"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/reaper"
	"github.com/daemonctl/daemonctl/internal/state"
)

// Options configure a monitor.
type Options struct {
	Config  *config.Config
	Service *config.Service
	// Environ is the environment of the command that asked for the
	// service; the service's own is resolved on top of it at each launch.
	Environ []string
	// Inherit is the umask and resource limits of that command, which the
	// service gets unless its config says otherwise; nil means the
	// supervisor's own.
	Inherit *inherit.Attrs
	// Reload, if set, loads the config as it stands: a relaunch by the
	// restart policy uses it, as update would.
	Reload func() (*config.Config, error)
	// Reaper reaps the service and the monitor's helper commands; the
	// process running monitors must be their parent.
	Reaper *reaper.Reaper
	// Supervisor is the process the monitor runs in.
	Supervisor proc.Identity
	// Claim names the request this monitor serves: it writes the
	// service's record only while the record carries this claim.
	Claim string
	// TakeOver takes over a running instance whose supervisor died,
	// instead of launching one.
	TakeOver bool
	// Observer, if set, hears every event of the service.
	Observer Observer
	// StopEnded, if set, hears the exit of an instance a stop ended (the
	// token names it), once its output is in the log and before the
	// monitor records the exit: a stop that records it along with the
	// stop spares the monitor writing the record again (HandOver).
	StopEnded func(token string, exit proc.ExitStatus)
	// Output receives the service's output and the monitor's notes; nil
	// means the service's rotated log file.
	Output Output
}

// Output is where a service's output goes: its rotated log (logs.Rotator),
// or a foreground command's stdout. Writes may hold back an unfinished
// line; Flush writes it as it is.
type Output interface {
	io.Writer
	Flush() error
	// PendingFor is how long an unfinished line has been held back.
	PendingFor() time.Duration
	Close() error
}

// Observer hears what happens to a monitored service.
type Observer interface {
	Observe(Event)
}

// Event is one thing that happened to a monitored service: a launch, its
// readiness, an exit, a restart scheduled, or the monitor giving up.
type Event struct {
	Service string
	Kind    state.Event
	PID     int
	Exit    *proc.ExitStatus
	// First marks the events of the launch a start command waits for.
	First bool
	// Detail says why, for GaveUp and RestartScheduled.
	Detail string
}

type monitor struct {
	Options
	store state.Store
	out   *sink
	first bool // the launch a start command waits for
	// launched is the fingerprint of the last launch (package drift).
	launched string
	// attempts are the exits of the launches a start command waited for,
	// the restart policy having relaunched the server before it was ready.
	attempts []string
	// retrying is set while a goroutine retries writing the record
	// atomically, run_dir having been full (retryWhenSpace).
	retrying atomic.Bool
}

// Run supervises one service until it ends for good: stopped, failed, not
// to be restarted, or ctx ends (a stop released it, or the supervisor is
// going away).
func Run(ctx context.Context, opts Options) error {
	s := opts.Service
	m := &monitor{Options: opts, store: state.Store{Dir: opts.Config.RunDir}, first: !opts.TakeOver}
	out := opts.Output
	if out == nil {
		rot := &logs.Rotator{Path: s.LogFile, MaxSize: int64(*s.LogMaxSize), MaxFiles: *s.LogMaxFiles, Timestamps: s.LogTimestamps}
		if err := rot.Open(); err != nil {
			m.tell(Event{Kind: state.GaveUp, Detail: err.Error()})
			return err
		}
		out = rot
	}
	m.out = &sink{log: out}
	m.out.onTrouble = func(err error) {
		m.update(ctx, m.owns, func(r *state.Record) error {
			r.LogError = ""
			if err != nil {
				r.LogError = fmt.Sprintf("writing the log fails since %s: %v", time.Now().UTC().Format(time.RFC3339), err)
			}
			return nil
		})
	}
	defer m.out.close()
	return m.loop(ctx)
}

// tell hands ev to the observer, if any.
func (m *monitor) tell(ev Event) {
	if m.Observer != nil {
		ev.Service, ev.First = m.Service.Name, m.first
		m.Observer.Observe(ev)
	}
}

// run is one life of the service: launched (or taken over), then exited.
type run struct {
	leader  proc.Identity
	token   string
	env     []string
	began   time.Time
	exited  <-chan proc.ExitStatus
	known   bool            // exit status is known (we are the parent)
	pipe    io.Closer       // our read end of the service's output pipe
	output  <-chan struct{} // closed when the output pipe is drained
	readyCh chan error
	// fingerprint identifies the config it was launched from.
	fingerprint string
	offset      int64 // the log's size at its launch
	adopted     bool  // another tool started it (state.Adopt)
	// born is the pid count just before its launch (proc.PIDCount);
	// zero when unknown.
	born proc.PIDCount
	// endedBecause says why the monitor ended it (its liveness probe
	// failed): the exit counts as a failure.
	endedBecause string
}

// tree is the instance's process tree.
func (r *run) tree() proc.Tree {
	return proc.Tree{Leader: r.leader, Token: r.token, Descendants: r.adopted, Born: r.born}
}

// detach stops reading the service's output, for a monitor that leaves a
// running service: the service's stdout reads the pipe too, so its
// writes go on into the pipe for the next monitor.
func (r *run) detach() {
	if r.pipe != nil {
		r.pipe.Close()
		<-r.output
	}
}

func (m *monitor) loop(ctx context.Context) error {
	takeOver := m.TakeOver
	for {
		var r *run
		var err error
		if takeOver {
			r, err = m.takeOver(ctx)
			takeOver = false
		} else {
			r, err = m.launch(ctx)
		}
		if err != nil {
			m.tell(Event{Kind: state.GaveUp, Detail: err.Error()})
			return err
		}
		if r == nil {
			return nil // stopped meanwhile
		}
		exit, stopped := m.watch(ctx, r)
		if stopped {
			return nil
		}
		delay, again := m.afterExit(ctx, r, exit)
		if !again {
			return nil
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			m.out.notef("restart of %s called off", m.Service.Name)
			return nil
		}
	}
}

// env resolves the service's environment as the config stands now.
func (m *monitor) env() ([]string, error) {
	env, err := envfile.Resolve(m.Config, m.Service, m.Environ)
	if err != nil {
		return nil, err
	}
	return env.Environ(), nil
}

// launch starts the service and records it, unless a stop claimed it.
func (m *monitor) launch(ctx context.Context) (*run, error) {
	fingerprint := m.refreshConfig()
	s := m.Service
	env, err := m.env()
	if err != nil {
		return nil, err
	}
	token := proc.NewToken()
	env = append(env, proc.TokenVar+"="+token, "DAEMONCTL_SERVICE="+s.Name, m.store.RunDirMark())
	r, w, err := newPipe()
	if err != nil {
		return nil, err
	}
	offset := m.logSize()
	// The instance's token is recorded before it exists, so that if this
	// process dies between the launch and the record, whatever it launched
	// is still found (by its token) and cleaned up.
	if reserved, err := m.reserve(ctx, token); err != nil || !reserved {
		r.Close()
		w.Close()
		return nil, err
	}
	crashpoint.Here("monitor:claimed")
	var id proc.Identity
	born, _ := proc.ReadPIDCount() // unreadable: zero, and stops read every process
	// The service's stdout also reads the pipe (newPipe), so if this
	// monitor dies, the service's writes still succeed (buffered in the
	// pipe, blocking only once it is full) until a new supervisor takes
	// the service over and drains it.
	exited, err := m.Reaper.Launch(func() (int, error) {
		id, err = m.spawn(proc.Spec{Argv: s.Command.Argv, Dir: s.Dir, Env: env, Stdout: w, Stderr: w})
		return id.PID, err
	})
	w.Close()
	if err != nil {
		r.Close()
		m.giveUp(ctx, token, err)
		return nil, err
	}
	crashpoint.Here("monitor:spawned")
	run := &run{leader: id, born: born, token: token, env: env, fingerprint: fingerprint, began: time.Now(), offset: offset, exited: exited, known: true, pipe: r, output: pump(r, m.out), readyCh: make(chan error, 1)}
	recorded, err := m.record(ctx, run, offset)
	if err != nil || !recorded {
		// A stop got here first, or the record cannot be written: what
		// nobody can find must not run.
		run.tree().Stop(context.WithoutCancel(ctx), unix.SIGKILL, time.Second, time.Second)
		<-exited
		if err != nil {
			m.giveUp(ctx, token, err)
		}
		return nil, err
	}
	crashpoint.Here("monitor:recorded")
	m.tell(Event{Kind: state.Launched, PID: id.PID})
	go m.awaitReady(ctx, run, offset)
	return run, nil
}

// refreshConfig takes up the config as it stands for a relaunch, saying
// in the log when it changed since the last launch, and returns the
// fingerprint of what is launched now.
func (m *monitor) refreshConfig() string {
	name := m.Service.Name
	if m.launched != "" && m.Reload != nil {
		cfg, err := m.Reload()
		switch {
		case err != nil:
			m.out.notef("%s: the config cannot be read (%v); relaunching it as before", name, err)
		case cfg.Services[name] == nil:
			m.out.notef("%s: no longer in the config; relaunching it as before", name)
		default:
			m.Config, m.Service = cfg, cfg.Services[name]
		}
	}
	fingerprint := drift.Fingerprint(m.Config, m.Service)
	if m.launched != "" && fingerprint != m.launched {
		m.out.notef("%s: its config changed since its last launch; relaunching it as the config now says", name)
	}
	m.launched = fingerprint
	return fingerprint
}

// giveUp records that the launch of the instance reserved as token
// failed with err: nothing of it runs, and the service has failed, now,
// not once the supervisor has gone.
func (m *monitor) giveUp(ctx context.Context, token string, err error) {
	m.update(ctx, func(rec *state.Record) bool { return m.owns(rec) && rec.Token == token },
		func(rec *state.Record) error { return rec.GiveUp(err.Error()) })
}

func (m *monitor) logSize() int64 {
	if fi, err := os.Stat(m.Service.LogFile); err == nil {
		return fi.Size()
	}
	return 0
}

// reserve records the token of the instance about to be launched, unless
// a stop (or another start) claimed the service meanwhile.
func (m *monitor) reserve(ctx context.Context, token string) (bool, error) {
	boot, err := proc.BootID()
	if err != nil {
		return false, err
	}
	return m.update(ctx, m.owns, func(r *state.Record) error { return r.Reserve(token, boot) })
}

// owns reports whether the record is this monitor's to write: it carries
// this monitor's claim, and no stop has claimed it since.
func (m *monitor) owns(r *state.Record) bool {
	return !r.StopRequested() && r.Claim == m.Claim
}

// record writes the new instance into the state record and then the pid
// file, unless a stop claimed the service meanwhile. In that order, so
// that whoever reads a pid file naming this instance finds a record that
// names it too (status reads them in the same order).
func (m *monitor) record(ctx context.Context, r *run, offset int64) (bool, error) {
	s := m.Service
	l, err := m.store.Lock(context.WithoutCancel(ctx), s.Name)
	if err != nil {
		return false, err
	}
	defer l.Release()
	rec, err := m.store.Read(s.Name)
	if err != nil || rec == nil || !m.owns(rec) || rec.Token != r.token {
		return false, err
	}
	in := state.Instance{Leader: r.leader, Born: r.born, Token: r.token, LogOffset: offset, PidFile: s.PidFile, LogFile: s.LogFile,
		Fingerprint: r.fingerprint, StopSignal: int(s.StopSignal), StopTimeout: s.StopTimeout.Std()}
	if err := rec.Launch(in); err != nil {
		return false, err
	}
	if err := m.store.Write(s.Name, rec); err != nil {
		return false, err
	}
	m.noteFull(ctx, rec)
	return true, pidfile.WritePID(s.PidFile, r.leader.PID)
}

// update changes the service's record under its lock, if match accepts
// it (state.Store.Update).
func (m *monitor) update(ctx context.Context, match func(*state.Record) bool, fn func(*state.Record) error) (bool, error) {
	var rec *state.Record
	ok, err := m.store.Update(ctx, m.Service.Name, match, func(r *state.Record) error {
		rec = r
		return fn(r)
	})
	if ok && err == nil {
		m.noteFull(ctx, rec)
	}
	return ok, err
}

// noteFull starts retrying an atomic write of the record if the last one
// went in place for want of space, so that the record says so only while
// run_dir is full, even if nothing else happens to the service.
func (m *monitor) noteFull(ctx context.Context, rec *state.Record) {
	if rec.RunDirFull == nil || !m.retrying.CompareAndSwap(false, true) {
		return
	}
	m.out.notef("%s: run_dir is full: its record is rewritten in place until there is space again", m.Service.Name)
	go func() {
		defer m.retrying.Store(false)
		backoff.Until(ctx, backoff.Policy{Initial: time.Second, Max: 30 * time.Second, Steady: 5}, func() (bool, error) {
			var rec *state.Record
			ok, err := m.store.Update(ctx, m.Service.Name, m.owns, func(r *state.Record) error {
				rec = r
				return nil // written again, atomically if there is space
			})
			switch {
			case err != nil:
				return false, nil // not even in place: try again
			case !ok:
				return true, nil // no longer ours to write
			}
			return rec.RunDirFull == nil, nil
		})
	}()
}

// awaitReady runs the readiness probe (or waits out the start grace) and
// records the service ready.
func (m *monitor) awaitReady(ctx context.Context, r *run, offset int64) {
	err := m.waitReady(ctx, r, offset)
	if err == nil {
		m.update(ctx, func(rec *state.Record) bool { return rec.Token == r.token && rec.Phase == state.PhaseStarting },
			(*state.Record).MarkReady)
	}
	r.readyCh <- err
}

func (m *monitor) waitReady(ctx context.Context, r *run, offset int64) error {
	s := m.Service
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	leaderGone := proc.WatchExit(ctx, r.leader)
	if s.Ready == nil {
		select {
		case <-leaderGone:
			return probe.ErrDied
		case <-time.After(s.StartGrace.Std()):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p := probe.For(s.Ready, probe.Target{Dir: s.Dir, Env: r.env, LogFile: s.LogFile, LogOffset: offset, Reaper: m.Reaper})
	if err := probe.Wait(ctx, p, s.Ready.Timeout.Std(), leaderGone); err != nil {
		return err
	}
	return m.answeredByOwnTree(r, p)
}

// answeredByOwnTree checks, for a probe of a local port, that the socket
// listening there belongs to the service's own process tree: an old copy
// or another program holding the port would otherwise pass for it.
func (m *monitor) answeredByOwnTree(r *run, p probe.Probe) error {
	port := m.Service.Ready.LocalPort()
	if port == 0 {
		return nil
	}
	sockets, err := listen.Sockets(port)
	if err != nil || len(sockets) == 0 {
		return nil // gone already: the exit will tell
	}
	members, _ := r.tree().Members()
	for _, id := range append(members, r.leader) {
		if listen.Holds(id.PID, sockets) {
			return nil
		}
	}
	return fmt.Errorf("not ready: %s was answered by %s, not by this service", p, listen.Describe(sockets))
}

// watch waits for the service's leader to exit, telling of its readiness
// on the way, and ends what is left of its tree. It returns the exit, and
// whether a stop (or the monitor's own end) explains it.
func (m *monitor) watch(ctx context.Context, r *run) (proc.ExitStatus, bool) {
	readyCh := r.readyCh
	liveCtx, endLiveness := context.WithCancel(ctx)
	defer endLiveness()
	var hung <-chan string
	for {
		select {
		case err := <-readyCh:
			readyCh = nil
			if err == nil {
				m.tell(Event{Kind: state.BecameReady, PID: r.leader.PID})
				hung = m.watchLiveness(liveCtx, r)
				continue
			}
			if errors.Is(err, probe.ErrDied) || errors.Is(err, context.Canceled) {
				continue // the exit explains itself
			}
			m.out.notef("%v; stopping it", err)
			m.endTree(ctx, r)
			exit := <-r.exited
			m.update(ctx, func(rec *state.Record) bool { return rec.Token == r.token }, func(rec *state.Record) error {
				if err := rec.Exit(exit, nil); err != nil {
					return err
				}
				return rec.GiveUp(err.Error())
			})
			m.tell(Event{Kind: state.GaveUp, PID: r.leader.PID, Exit: &exit, Detail: err.Error() + "; stopped it"})
			return exit, true
		case why := <-hung:
			m.out.notef("%s: %s; stopping it for its restart policy", m.Service.Name, why)
			r.endedBecause = why
			m.endTree(ctx, r)
			exit := <-r.exited
			select {
			case <-r.output:
			case <-time.After(time.Second):
			}
			return exit, false
		case exit := <-r.exited:
			if !m.stopRequested() {
				// A stop signals the tree itself; otherwise what the
				// leader left behind is ended here.
				m.endTree(ctx, r)
			}
			select {
			case <-r.output:
			case <-time.After(time.Second):
			}
			return exit, false
		case <-ctx.Done():
			// Told to go: a stop is under way, a later start superseded
			// this monitor (after a stop ended the instance), or the
			// supervisor is going away. Either way the service is not ours
			// to end; if it has ended already, its exit is collected.
			if m.stopRequested() || !r.leader.Alive() {
				exit := <-r.exited
				m.update(ctx, func(rec *state.Record) bool { return rec.Token == r.token }, func(rec *state.Record) error {
					return rec.Exit(exit, nil)
				})
				m.tell(Event{Kind: state.Exited, PID: r.leader.PID, Exit: &exit, Detail: "stopped"})
				return exit, true
			}
			r.detach()
			m.out.notef("monitor leaving; %s (pid %d) keeps running, its output held in its pipe until a supervisor takes it over", m.Service.Name, r.leader.PID)
			return proc.ExitStatus{}, true
		}
	}
}

// endTree stops whatever is left of the instance's tree once its leader
// has exited (a JVM outliving its start.sh), so a restart cannot collide
// with it.
func (m *monitor) endTree(ctx context.Context, r *run) {
	s := m.Service
	r.tree().Stop(context.WithoutCancel(ctx), unix.Signal(s.StopSignal), s.StopTimeout.Std(), proc.KillWait)
}

func (m *monitor) restarts() int {
	rec, err := m.store.Read(m.Service.Name)
	if err != nil || rec == nil {
		return 0
	}
	return rec.Restarts
}

func (m *monitor) stopRequested() bool {
	rec, err := m.store.Read(m.Service.Name)
	return err == nil && rec != nil && rec.StopRequested()
}

// afterExit records an exit and decides whether and when to restart.
func (m *monitor) afterExit(ctx context.Context, r *run, exit proc.ExitStatus) (time.Duration, bool) {
	s := m.Service
	uptime := time.Since(r.began)
	if m.stopRequested() {
		if m.StopEnded != nil {
			m.StopEnded(r.token, exit)
		}
	} else {
		// Before the exit is recorded, so that a status showing it
		// means the operator's hook has run.
		env, _ := m.env()
		runOnExit(ctx, m.Reaper, onExitTimeout, s, env, exit, m.restarts(), m.out)
	}
	var (
		delay       time.Duration
		ev          = Event{Kind: state.Exited, PID: r.leader.PID, Exit: &exit}
		wasStarting bool
	)
	// A stop that was handed the exit has recorded it: nothing to write.
	unrecorded := func(rec *state.Record) bool {
		return rec.Token == r.token && !(rec.Phase == state.PhaseStopped && rec.LastExit != nil && *rec.LastExit == exit)
	}
	m.update(ctx, unrecorded, func(rec *state.Record) error {
		if rec.StopRequested() {
			return rec.Exit(exit, nil)
		}
		wasStarting = rec.Phase == state.PhaseStarting
		crash := crashRecord(s.LogFile, s.Dir, exit, r.began)
		crash.Reason = r.endedBecause
		if err := rec.Exit(exit, crash); err != nil {
			return err
		}
		duringStart := m.first && wasStarting
		if duringStart {
			m.attempts = append(m.attempts, exit.String())
		}
		switch {
		case duringStart && !ShouldRestart(string(s.Restart), exit.Code, r.known && r.endedBecause == ""):
			ev.Kind, ev.Detail = state.GaveUp, fmt.Sprintf("exited during start: %s", exit)
			return rec.GiveUp("") // the exit says why
		case !ShouldRestart(string(s.Restart), exit.Code, r.known && r.endedBecause == ""):
			ev.Detail = fmt.Sprintf("exited (%s); restart policy %s: not restarting", exit, s.Restart)
			return nil
		}
		if uptime < StableUptime || wasStarting {
			rec.QuickDeaths++
		} else {
			rec.QuickDeaths = 1
		}
		if rec.QuickDeaths > *s.RestartLimit {
			ev.Kind, ev.Detail = state.GaveUp, fmt.Sprintf("exited (%s); %d quick deaths in a row, giving up", exit, rec.QuickDeaths)
			if duringStart {
				ev.Detail = fmt.Sprintf("exited during start, %d times in a row (%s); restart_limit %d: giving up",
					len(m.attempts), strings.Join(m.attempts, "; "), *s.RestartLimit)
			}
			return rec.GiveUp("") // the exit says why
		}
		delay = RestartDelay(s.RestartDelay.Std(), rec.QuickDeaths)
		ev.Kind = state.RestartScheduled
		if err := rec.ScheduleRestart(delay); err != nil {
			return err
		}
		ev.Detail = fmt.Sprintf("exited (%s); restarting in %s (restart %d)", exit, delay, rec.Restarts)
		return nil
	})
	if ev.Detail != "" {
		m.out.notef("%s %s", s.Name, ev.Detail)
	}
	m.tell(ev)
	// A start waits on through the restarts of a server that died before
	// it was ready: the restart policy applies during start too.
	m.first = m.first && wasStarting && ev.Kind == state.RestartScheduled
	return delay, ev.Kind == state.RestartScheduled
}

// spawn launches the service, through daemonctl's privilege helper when it
// runs as another user, or with another umask or other resource limits
// than the supervisor's children get.
func (m *monitor) spawn(spec proc.Spec) (proc.Identity, error) {
	s := m.Service
	attrs, err := privilege.Attrs(s, m.Inherit)
	if err != nil {
		return proc.Identity{}, err
	}
	if !privilege.Needed(s, attrs) {
		return proc.Spawn(spec)
	}
	priv, err := privilege.Resolve(s, attrs)
	if err != nil {
		return proc.Identity{}, err
	}
	return priv.Spawn(spec)
}

package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/crashpoint"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/privilege"
	"github.com/daemonctl/daemonctl/internal/probe"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// Options configure a monitor.
type Options struct {
	Config  *config.Config
	Service *config.Service
	// Env resolves the service's environment (lifecycle.Manager.Env).
	Env func(*config.Service) ([]string, error)
	// Report, if set, receives one line per event of the first launch for
	// the `start` command waiting on it: "launched PID", then "ready" or
	// "failed REASON". It is closed after the last.
	Report io.WriteCloser
	// Adopt takes over a service that runs already, whose monitor died.
	Adopt bool
}

// Report lines.
const (
	ReportLaunched = "launched"
	ReportReady    = "ready"
	ReportFailed   = "failed"
)

type monitor struct {
	Options
	store   pidfile.Store
	out     *sink
	reaper  *reaper
	first   bool          // the launch `start` is waiting for
	self    proc.Identity // the supervisor process
	claimID string        // the request this monitor serves
}

// monitor supervises one service until it ends for good: stopped,
// failed, not to be restarted, or its context ends (released by a stop,
// or the supervisor going away).
func runMonitor(ctx context.Context, opts Options, reaper *reaper, self proc.Identity, claim string) error {
	s := opts.Service
	rot := &logs.Rotator{Path: s.LogFile, MaxSize: int64(*s.LogMaxSize), MaxFiles: *s.LogMaxFiles, Timestamps: s.LogTimestamps}
	if err := rot.Open(); err != nil {
		opts.report(ReportFailed, err.Error())
		if opts.Report != nil {
			opts.Report.Close()
		}
		return err
	}
	m := &monitor{Options: opts, store: pidfile.Store{Dir: opts.Config.RunDir}, out: &sink{log: rot}, reaper: reaper, first: !opts.Adopt, self: self, claimID: claim}
	m.out.onTrouble = func(err error) {
		m.store.Update(ctx, s.Name, m.owns, func(st *pidfile.State) error {
			st.LogError = ""
			if err != nil {
				st.LogError = fmt.Sprintf("writing the log fails since %s: %v", time.Now().UTC().Format(time.RFC3339), err)
			}
			return nil
		})
	}
	defer m.out.close()
	defer m.closeReport()
	return m.loop(ctx)
}

func (o *Options) report(kind, detail string) {
	if o.Report == nil {
		return
	}
	fmt.Fprintf(o.Report, "%s %s\n", kind, detail)
}

func (m *monitor) closeReport() {
	if m.Report != nil {
		m.Report.Close()
		m.Report = nil
	}
}

// run is one life of the service: launched (or adopted), then exited.
type run struct {
	leader  proc.Identity
	token   string
	began   time.Time
	exited  <-chan proc.ExitStatus
	known   bool            // exit status is known (we are the parent)
	pipe    io.Closer       // our read end of the service's output pipe
	output  <-chan struct{} // closed when the output pipe is drained
	readyCh chan error
}

// detach stops reading the service's output, for a monitor that leaves a
// running service: the service holds the pipe's read end too, so its
// writes go on into the pipe for the next monitor.
func (r *run) detach() {
	if r.pipe != nil {
		r.pipe.Close()
		<-r.output
	}
}

func (m *monitor) loop(ctx context.Context) error {
	adopt := m.Adopt
	for {
		var r *run
		var err error
		if adopt {
			r, err = m.adopt(ctx)
			adopt = false
		} else {
			r, err = m.launch(ctx)
		}
		if err != nil {
			m.report(ReportFailed, err.Error())
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

// launch starts the service and records it, unless a stop claimed it.
func (m *monitor) launch(ctx context.Context) (*run, error) {
	s := m.Service
	env, err := m.Env(s)
	if err != nil {
		return nil, err
	}
	token := newToken()
	env = append(env, proc.TokenVar+"="+token, "DAEMONCTL_SERVICE="+s.Name)
	r, w, err := newPipe()
	if err != nil {
		return nil, err
	}
	offset := m.logSize()
	// The instance's token is recorded before it exists, so that if this
	// process dies between the launch and the record, whatever it launched
	// is still found (by its token) and cleaned up.
	if claimed, err := m.claim(ctx, token); err != nil || !claimed {
		r.Close()
		w.Close()
		return nil, err
	}
	crashpoint.Here("monitor:claimed")
	m.reaper.hold()
	// The service also holds the pipe's read end (as fd 3), so the pipe
	// never loses its last reader: if this monitor dies, the service's
	// writes still succeed (buffered in the pipe, blocking only once it
	// is full) until a new monitor adopts the service and drains it.
	id, err := m.spawn(proc.Spec{Argv: s.Command.Argv, Dir: s.Dir, Env: env, Stdout: w, Stderr: w, ExtraFiles: []*os.File{r}})
	w.Close()
	if err != nil {
		m.reaper.release()
		r.Close()
		return nil, err
	}
	exited := m.reaper.watch(id.PID)
	m.reaper.release()
	crashpoint.Here("monitor:spawned")
	run := &run{leader: id, token: token, began: time.Now(), exited: exited, known: true, pipe: r, output: pump(r, m.out), readyCh: make(chan error, 1)}
	claimed, err := m.record(ctx, run, offset)
	if err != nil || !claimed {
		// A stop got here first, or the record cannot be written: what
		// nobody can find must not run.
		(proc.Tree{Leader: id, Token: token}).Stop(context.WithoutCancel(ctx), unix.SIGKILL, time.Second, time.Second)
		<-exited
		return nil, err
	}
	crashpoint.Here("monitor:recorded")
	if m.first {
		m.report(ReportLaunched, fmt.Sprint(id.PID))
	}
	go m.awaitReady(ctx, run, env, offset)
	return run, nil
}

func (m *monitor) logSize() int64 {
	if fi, err := os.Stat(m.Service.LogFile); err == nil {
		return fi.Size()
	}
	return 0
}

// claim records the token of the instance about to be launched, unless a
// stop (or another start) claimed the service meanwhile.
func (m *monitor) claim(ctx context.Context, token string) (bool, error) {
	boot, err := proc.BootID()
	if err != nil {
		return false, err
	}
	return m.store.Update(ctx, m.Service.Name, m.owns, func(st *pidfile.State) error {
		st.Token, st.Leader = token, proc.Identity{BootID: boot}
		return nil
	})
}

// owns reports whether the record is this monitor's to write: it carries
// this monitor's claim, and no stop has claimed it since.
func (m *monitor) owns(st *pidfile.State) bool {
	return !st.StopRequested() && st.Claim == m.claimID
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
	st, err := m.store.Read(s.Name)
	if err != nil || st == nil || !m.owns(st) || st.Token != r.token {
		return false, err
	}
	if err := st.SetPhase(pidfile.PhaseStarting); err != nil {
		return false, err
	}
	st.Leader, st.Token, st.StartedAt, st.LogOffset = r.leader, r.token, time.Now().UTC(), offset
	st.PidFile, st.LogFile, st.ReadyAt, st.NextRestart = s.PidFile, s.LogFile, nil, nil
	if err := m.store.Write(s.Name, st); err != nil {
		return false, err
	}
	return true, pidfile.WritePID(s.PidFile, r.leader.PID)
}

// awaitReady runs the readiness probe (or waits out the start grace) and
// records the service ready.
func (m *monitor) awaitReady(ctx context.Context, r *run, env []string, offset int64) {
	s := m.Service
	err := m.waitReady(ctx, r, env, offset)
	if err == nil {
		m.store.Update(ctx, s.Name, func(st *pidfile.State) bool { return st.Token == r.token && st.Phase == pidfile.PhaseStarting },
			func(st *pidfile.State) error {
				t := time.Now().UTC()
				st.ReadyAt = &t
				return st.SetPhase(pidfile.PhaseRunning)
			})
	}
	r.readyCh <- err
}

func (m *monitor) waitReady(ctx context.Context, r *run, env []string, offset int64) error {
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
	p := probe.For(s.Ready, s.Dir, env, s.LogFile, offset)
	return probe.Wait(ctx, p, s.Ready.Timeout.Std(), leaderGone)
}

// watch waits for the service's leader to exit, reporting readiness to
// `start` on the way, and ends what is left of its tree. It returns the
// exit, and whether a stop (or the monitor's own end) explains it.
func (m *monitor) watch(ctx context.Context, r *run) (proc.ExitStatus, bool) {
	readyCh := r.readyCh
	for {
		select {
		case err := <-readyCh:
			readyCh = nil
			if err == nil {
				if m.first {
					m.report(ReportReady, "")
					m.closeReport()
				}
				continue
			}
			if errors.Is(err, probe.ErrDied) || errors.Is(err, context.Canceled) {
				continue // the exit explains itself
			}
			m.out.notef("%v; stopping it", err)
			m.endTree(ctx, r)
			exit := <-r.exited
			m.finish(ctx, r, exit, pidfile.PhaseFailed)
			if m.first {
				m.report(ReportFailed, err.Error()+"; stopped it")
			}
			return exit, true
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
			// Told to go: a stop is under way, or an operator wants this
			// monitor gone. Either way the service is not ours to end.
			if m.stopRequested() {
				exit := <-r.exited
				m.finish(ctx, r, exit, "")
				return exit, true
			}
			r.detach()
			m.out.notef("monitor leaving; %s (pid %d) keeps running, its output held in its pipe until a supervisor adopts it", m.Service.Name, r.leader.PID)
			return proc.ExitStatus{}, true
		}
	}
}

// endTree stops whatever is left of the instance's tree once its leader
// has exited (a JVM outliving its start.sh), so a restart cannot collide
// with it.
func (m *monitor) endTree(ctx context.Context, r *run) {
	s := m.Service
	(proc.Tree{Leader: r.leader, Token: r.token}).Stop(context.WithoutCancel(ctx), unix.Signal(s.StopSignal), s.StopTimeout.Std(), proc.KillWait)
}

func (m *monitor) restarts() int {
	st, err := m.store.Read(m.Service.Name)
	if err != nil || st == nil {
		return 0
	}
	return st.Restarts
}

func (m *monitor) stopRequested() bool {
	st, err := m.store.Read(m.Service.Name)
	return err == nil && st != nil && st.StopRequested()
}

// finish records the exit of an instance; with phase set, it also moves
// the record there.
func (m *monitor) finish(ctx context.Context, r *run, exit proc.ExitStatus, phase pidfile.Phase) {
	m.store.Update(ctx, m.Service.Name, func(st *pidfile.State) bool { return st.Token == r.token }, func(st *pidfile.State) error {
		st.LastExit = &exit
		if phase != "" {
			return st.SetPhase(phase)
		}
		return nil
	})
}

// afterExit records an exit and decides whether and when to restart.
func (m *monitor) afterExit(ctx context.Context, r *run, exit proc.ExitStatus) (time.Duration, bool) {
	s := m.Service
	var (
		delay   time.Duration
		again   bool
		message string
	)
	uptime := time.Since(r.began)
	if !m.stopRequested() {
		// Before the exit is recorded, so that a status showing it
		// means the operator's hook has run.
		env, _ := m.Env(s)
		runOnExit(ctx, s.OnExit, s.Dir, env, s.Name, exit, m.restarts(), m.out)
	}
	m.store.Update(ctx, s.Name, func(st *pidfile.State) bool { return st.Token == r.token }, func(st *pidfile.State) error {
		st.LastExit = &exit
		if st.StopRequested() {
			return nil
		}
		st.LastCrash = crashRecord(s.LogFile, s.Dir, exit, r.began)
		wasStarting := st.Phase == pidfile.PhaseStarting
		switch {
		case m.first && wasStarting:
			message = fmt.Sprintf("exited during start: %s", exit)
			return st.SetPhase(pidfile.PhaseFailed)
		case !ShouldRestart(string(s.Restart), exit.Code, r.known):
			message = fmt.Sprintf("exited (%s); restart policy %s: not restarting", exit, s.Restart)
			return nil
		}
		if uptime < StableUptime || wasStarting {
			st.QuickDeaths++
		} else {
			st.QuickDeaths = 1
		}
		if st.QuickDeaths > s.RestartLimit {
			message = fmt.Sprintf("exited (%s); %d quick deaths in a row, giving up", exit, st.QuickDeaths)
			return st.SetPhase(pidfile.PhaseFailed)
		}
		delay = Backoff(s.RestartDelay.Std(), st.QuickDeaths)
		next := time.Now().UTC().Add(delay)
		st.NextRestart = &next
		st.Restarts++
		again = true
		message = fmt.Sprintf("exited (%s); restarting in %s (restart %d)", exit, delay, st.Restarts)
		return nil
	})
	if message != "" {
		m.out.notef("%s %s", s.Name, message)
		if m.first {
			m.report(ReportFailed, message)
		}
	}
	m.first = false
	m.closeReport()
	return delay, again
}

// spawn launches the service, through daemonctl's privilege helper when it
// runs as another user or with resource limits.
func (m *monitor) spawn(spec proc.Spec) (proc.Identity, error) {
	s := m.Service
	if !privilege.Needed(s) {
		return proc.Spawn(spec)
	}
	priv, err := privilege.Resolve(s)
	if err != nil {
		return proc.Identity{}, err
	}
	path, err := spec.Path()
	if err != nil {
		return proc.Identity{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return proc.Identity{}, err
	}
	helper := spec
	helper.Argv = append([]string{"daemonctl", privilege.HelperCmd}, priv.Args(append([]string{path}, spec.Argv...))...)
	return proc.SpawnDetached(helper, self)
}

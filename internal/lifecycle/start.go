package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/backoff"
	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/crashpoint"
	"github.com/daemonctl/daemonctl/internal/inherit"
	"github.com/daemonctl/daemonctl/internal/listen"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/monitor"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/privilege"
	"github.com/daemonctl/daemonctl/internal/probe"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/safepath"
	"github.com/daemonctl/daemonctl/internal/state"
	"github.com/daemonctl/daemonctl/internal/supervisor"
)

// LogTailLines is how many lines of its log a failed start shows.
const LogTailLines = 20

// Start starts the named services (all when none is named) and everything
// they depend on. A service starts once each of its dependencies is
// running and ready; independent services start in parallel. A service
// that already runs is not started again.
func (m *Manager) Start(ctx context.Context, names []string) error {
	services, err := m.selectConfigured(names)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		services = slices.DeleteFunc(services, func(s *config.Service) bool { return !*s.StartWithAll })
	}
	return m.startSet(ctx, m.cfg.WithDependencies(services))
}

// StartOnly is Start without what the services depend on: the named
// services start in dependency order among themselves, and whatever else
// they depend on is taken to be seen to elsewhere (on another host, by
// `cluster start`).
func (m *Manager) StartOnly(ctx context.Context, names []string) error {
	services, err := m.selectConfigured(names)
	if err != nil {
		return err
	}
	return m.startSet(ctx, services)
}

// starter is Start, or StartOnly when noDeps: what restart and update
// start again with.
func (m *Manager) starter(noDeps bool) func(context.Context, []string) error {
	if noDeps {
		return m.StartOnly
	}
	return m.Start
}

func (m *Manager) startSet(ctx context.Context, set []*config.Service) error {
	m.newScan()
	if err := m.checkEnvs(set); err != nil {
		return err
	}
	err := inOrder(ctx, set, dependencies, m.startOne)
	var failures Failures
	if errors.As(err, &failures) && len(failures) < len(set) {
		m.printf("left running: %s", strings.Join(m.runningOf(set), ", "))
	}
	return err
}

func (m *Manager) runningOf(set []*config.Service) []string {
	var out []string
	for _, s := range set {
		if m.observe(s).Running() {
			out = append(out, s.Name)
		}
	}
	return out
}

// EnvError is a service whose environment cannot be resolved: an env file
// that is missing, malformed or tries to run a command. It is a config
// error, found before anything starts.
type EnvError struct {
	Service string
	Err     error
}

func (e *EnvError) Error() string { return e.Service + ": " + e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// checkEnvs resolves every service's environment up front, so that a bad
// env file stops the command before any service is started.
func (m *Manager) checkEnvs(set []*config.Service) error {
	for _, s := range set {
		if _, err := m.Env(s); err != nil {
			return &EnvError{Service: s.Name, Err: err}
		}
	}
	return nil
}

// startOne brings one service to running and ready.
func (m *Manager) startOne(ctx context.Context, s *config.Service) error {
	l, err := m.lock(ctx, s)
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	o := m.observe(s)
	switch {
	case o.RecordErr != nil:
		l.Release()
		return &ServiceError{Service: s.Name, Err: unreadableRecord(o.RecordErr)}
	case o.Foreign != nil && !s.Shared:
		l.Release()
		return &ServiceError{Service: s.Name, Err: foreignError(o.Foreign, "not starting a second copy")}
	case o.Running() && o.Record.Phase == state.PhaseStopping:
		// We hold the lock a stop holds throughout, so that stop died
		// half-way: finish it, then start afresh.
		m.printf("%s: finishing a stop that was interrupted", s.Name)
		if _, err := m.stopLocked(ctx, s, o, StopOptions{}); err != nil {
			l.Release()
			return err
		}
		o = m.observe(s)
	case o.Running() || o.Launching():
		defer l.Release()
		pid := o.Record.Leader.PID
		switch {
		case o.Recovered > 0:
			if err := m.takeOver(s, o.Record); err != nil {
				return &ServiceError{Service: s.Name, Err: err}
			}
			if err := pidfile.WritePID(s.PidFile, pid); err != nil {
				return &ServiceError{Service: s.Name, Err: err}
			}
			m.printf("%s is already running (pid %d); its record in run_dir was lost, it was found again by its environment and taken over", s.Name, pid)
		case o.Running() && !o.SupervisorAlive:
			if err := m.takeOver(s, o.Record); err != nil {
				return &ServiceError{Service: s.Name, Err: err}
			}
			m.printf("%s is already running (pid %d); its supervisor had died, a new one took it over", s.Name, pid)
		case o.Running():
			m.printf("%s is already running (pid %d)", s.Name, pid)
		default:
			m.printf("%s is already being started", s.Name)
		}
		m.did(s.Name, ActionAlreadyRunning)
		l.Release()
		return m.awaitExisting(ctx, s)
	}
	if who, ok := providedExternally(ctx, s); ok {
		l.Release()
		m.printf("%s is provided externally (%s listens on its port and answers its probe): not started", s.Name, who)
		m.did(s.Name, ActionAlreadyRunning)
		return nil
	}
	req, st, err := m.launch(ctx, s, o)
	l.Release()
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	return m.awaitReport(ctx, s, req, st)
}

// launch asks the supervisor to monitor the service, which launches it,
// and records the request. The caller holds the service's lock.
func (m *Manager) launch(ctx context.Context, s *config.Service, o state.Observation) (*supervisor.Request, *state.Record, error) {
	if err := m.cleanLeftovers(ctx, s, o); err != nil {
		return nil, nil, err
	}
	if err := checkDir(s.Dir); err != nil {
		return nil, nil, err
	}
	if err := checkPortFree(s); err != nil {
		return nil, nil, err
	}
	if s.User != "" || s.Group != "" {
		if _, err := privilege.Resolve(s, inherit.Attrs{}); err != nil {
			return nil, nil, err
		}
	}
	if err := m.copyEnvFile(s); err != nil {
		return nil, nil, err
	}
	logFile, offset, err := openLog(s.LogFile)
	if err != nil {
		return nil, nil, err
	}
	defer logFile.Close()
	pidDir, err := safepath.OpenDir(filepath.Dir(s.PidFile), true)
	if err != nil {
		return nil, nil, fmt.Errorf("pid file directory: %w", err)
	}
	pidDir.Close()
	crashpoint.Here("start:checked")
	req, err := m.sup.Send(supervisor.OpStart, s.Name, m.caller())
	if err != nil {
		return nil, nil, err
	}
	crashpoint.Here("start:accepted")
	st, err := state.RequestStart(o.Record, state.Start{Service: s.Name, Supervisor: req.Supervisor, Claim: req.Claim,
		PidFile: s.PidFile, LogFile: s.LogFile, LogOffset: offset})
	if err != nil {
		req.Close()
		return nil, nil, err
	}
	if err := m.writeRecord(s, st); err != nil {
		// The supervisor finds no record naming it, and launches nothing.
		req.Close()
		return nil, nil, err
	}
	crashpoint.Here("start:recorded")
	return req, st, nil
}

// spawnSupervisor starts the supervisor of the run_dir, detached in its
// own session, its own messages going to log_dir/supervisor.log (not
// run_dir, which holds no file open for writing: it may be remounted
// read-only under running services).
func (m *Manager) spawnSupervisor() error {
	logFile, _, err := openLog(filepath.Join(m.cfg.LogDir, "supervisor.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	id, err := proc.SpawnDetached(proc.Spec{Argv: m.supCmd.Args, Dir: m.cfg.Dir, Env: m.environ, Stdout: logFile, Stderr: logFile}, m.supCmd.Path)
	if err != nil {
		return err
	}
	proc.ReapLater(id)
	return nil
}

// takeOver gives a running service whose supervisor died a new one.
func (m *Manager) takeOver(s *config.Service, r *state.Record) error {
	req, err := m.sup.Send(supervisor.OpTakeOver, s.Name, m.caller())
	if err != nil {
		return err
	}
	req.Close()
	if err := r.TakeOver(req.Supervisor, req.Claim); err != nil {
		return err
	}
	return m.writeRecord(s, r)
}

// release asks the supervisor to stop monitoring the instance r records
// (it may be waiting to restart it) and waits until it has. Only the
// monitor of r's claim goes: a start that came since keeps its own.
func (m *Manager) release(r *state.Record) {
	if !r.SupervisorAlive() {
		return
	}
	if err := m.sup.Release(r.Service, r.Claim); err != nil {
		m.printf("%s: %v; the stop is recorded, and its monitor leaves once the supervisor sees it", r.Service, err)
	}
}

// awaitReport reads what the supervisor reports of the first launch.
func (m *Manager) awaitReport(ctx context.Context, s *config.Service, req *supervisor.Request, st *state.Record) error {
	defer req.Close()
	began := time.Now()
	type report struct {
		kind   supervisor.Answer
		detail string
		err    error
	}
	reports := make(chan report)
	done := make(chan struct{})
	defer close(done) // before req.Close, which ends a Next under way
	go func() {
		for {
			kind, detail, err := req.Next()
			select {
			case reports <- report{kind, detail, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	// The supervisor reports within the readiness wait, plus the stop of a
	// server that was not ready in time; past that it is stopped or hung.
	limit := reportLimit(s)
	silence := time.NewTimer(limit)
	defer silence.Stop()
	pid := ""
	for {
		select {
		case <-ctx.Done():
			return &ServiceError{Service: s.Name, Err: errors.New("interrupted while waiting for readiness; left to its supervisor")}
		case <-silence.C:
			return m.startError(s, fmt.Errorf("no word from its supervisor %s in %s; left to it", supervisor.Describe(req.Supervisor.PID), limit))
		case r := <-reports:
			switch {
			case r.err != nil:
				return m.startError(s, errors.New("its supervisor ended without a word"))
			case r.kind == supervisor.AnswerLaunched:
				pid = r.detail
			case r.kind == supervisor.AnswerRetrying:
				m.printf("%s %s", s.Name, r.detail)
				// The next launch gets the whole wait again, after its
				// restart delay.
				silence.Reset(limit + monitor.MaxBackoff)
			case r.kind == supervisor.AnswerReady:
				m.printf("%s started (pid %s%s)", s.Name, pid, readyNote(s, time.Since(began)))
				m.did(s.Name, ActionStarted)
				return nil
			case r.kind == supervisor.AnswerFailed:
				return m.startError(s, errors.New(r.detail))
			}
		}
	}
}

// reportLimit is how long a start waits for its supervisor's report.
func reportLimit(s *config.Service) time.Duration {
	wait := s.StartGrace.Std()
	if s.Ready != nil {
		wait = s.Ready.Timeout.Std()
	}
	return wait + s.StopTimeout.Std() + proc.KillWait + 2*supervisor.AnswerTimeout
}

func readyNote(s *config.Service, took time.Duration) string {
	if s.Ready == nil {
		return ""
	}
	return fmt.Sprintf(", ready after %s: %s", took.Round(time.Millisecond), s.Ready)
}

// awaitExisting waits until an instance some other command started is
// ready (or has failed), so that every concurrent `start` returns only
// once it is.
func (m *Manager) awaitExisting(ctx context.Context, s *config.Service) error {
	limit := s.StartGrace.Std() + proc.KillWait
	if s.Ready != nil {
		limit = s.Ready.Timeout.Std() + proc.KillWait
	}
	waitCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var gone error
	err := backoff.Until(waitCtx, existingCheck, func() (bool, error) {
		o := m.observe(s)
		if !o.Running() && !o.Launching() && !o.Restarting() {
			state, detail := o.Classify()
			gone = m.startError(s, fmt.Errorf("%s while another start waited for it: %s", state, detail))
			return true, nil
		}
		return o.Ready(), nil
	})
	switch {
	case gone != nil:
		return gone
	case err != nil && ctx.Err() == nil:
		return m.startError(s, errors.New("not ready in time (started by another command)"))
	}
	return err
}

// existingCheck paces awaitExisting's looks at the record.
var existingCheck = backoff.Policy{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond}

// cleanLeftovers stops processes of a previous instance that outlived
// their leader (a JVM whose start.sh died), so they cannot hold the
// ports the new instance needs. Only processes carrying that instance's
// token are touched.
func (m *Manager) cleanLeftovers(ctx context.Context, s *config.Service, o state.Observation) error {
	if o.PidErr != nil {
		m.printf("%s: replacing unreadable pid file (%v)", s.Name, o.PidErr)
	}
	if foreignPidFile(o) {
		return fmt.Errorf("pid file %s names pid %d (%s), a live process daemonctl did not start: not overwriting it; remove the file if it is stale (the pid was reused), or `daemonctl adopt %s --pid %d --force` if that process is %s",
			s.PidFile, o.PidFilePID, proc.CommandLine(o.PidFilePID), s.Name, o.PidFilePID, s.Name)
	}
	if o.Record == nil || o.Record.Token == "" {
		return nil
	}
	left, err := o.Record.Tree().Members()
	if err != nil || len(left) == 0 {
		return err
	}
	m.printf("%s: stopping %d leftover process(es) of the previous instance", s.Name, len(left))
	_, err = o.Record.Tree().Stop(ctx, unix.Signal(s.StopSignal), s.StopTimeout.Std(), proc.KillWait)
	return err
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("working directory %s is not a directory", dir)
	}
	return nil
}

// openLog opens the service's log for appending and returns its size. It
// is how start checks, before anything runs, that the log can be written.
func openLog(path string) (*os.File, int64, error) {
	dir, f, err := logs.OpenForAppend(path)
	if err != nil {
		return nil, 0, err
	}
	dir.Close()
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("log file: %w", err)
	}
	return f, fi.Size(), nil
}

// startError wraps err with the last lines of the service's log.
func (m *Manager) startError(s *config.Service, err error) error {
	tail, _ := logs.Tail(s.LogFile, LogTailLines)
	return &ServiceError{Service: s.Name, Err: err, LogFile: s.LogFile, LogTail: tail}
}

// checkPortFree refuses to launch service s while another process
// listens on the local port its probe targets: the probe would hear that
// process (an old copy, another install), and the new server could not
// bind it anyway.
func checkPortFree(s *config.Service) error {
	port, sockets := listenersOnProbePort(s)
	if len(sockets) == 0 {
		return nil
	}
	return fmt.Errorf("port %d is in use by %s, not this service: nothing launched", port, listen.Describe(sockets))
}

// providedExternally reports whether shared service s is already served
// by a process daemonctl did not start (a ZooKeeper installed apart, or
// another install's): something listens on its probe's local port and
// the probe passes. Dependents then use that one.
func providedExternally(ctx context.Context, s *config.Service) (string, bool) {
	if !s.Shared {
		return "", false
	}
	_, sockets := listenersOnProbePort(s)
	if len(sockets) == 0 {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if probe.For(s.Ready, probe.Target{Dir: s.Dir, LogFile: s.LogFile}).Check(ctx) != nil {
		return "", false
	}
	return listen.Describe(sockets), true
}

// listenersOnProbePort returns the local port service s's readiness probe
// targets, and the sockets listening on it: none for a probe of no local
// port, or one nothing listens on.
func listenersOnProbePort(s *config.Service) (int, []uint64) {
	if s.Ready == nil || s.Ready.LocalPort() == 0 {
		return 0, nil
	}
	port := s.Ready.LocalPort()
	sockets, _ := listen.Sockets(port)
	return port, sockets
}

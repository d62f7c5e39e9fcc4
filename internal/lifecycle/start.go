package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/crashpoint"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/privilege"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/supervise"
)

// LogTailLines is how many lines of its log a failed start shows.
const LogTailLines = 20

// Start starts the named services (all when none is named) and everything
// they depend on. A service starts once each of its dependencies is
// running and ready; independent services start in parallel. A service
// that already runs is not started again.
func (m *Manager) Start(ctx context.Context, names []string) error {
	services, err := m.cfg.Select(names)
	if err != nil {
		return err
	}
	return m.startSet(ctx, m.cfg.WithDependencies(services))
}

// StartOnly is Start without what the services depend on: the named
// services start in dependency order among themselves, and whatever else
// they depend on is taken to be seen to elsewhere (on another host, by
// `cluster start`).
func (m *Manager) StartOnly(ctx context.Context, names []string) error {
	services, err := m.cfg.Select(names)
	if err != nil {
		return err
	}
	return m.startSet(ctx, services)
}

func (m *Manager) startSet(ctx context.Context, set []*config.Service) error {
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
		if m.observe(s).running() {
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
	case o.recordErr != nil:
		l.Release()
		return &ServiceError{Service: s.Name, Err: unreadableRecord(o.recordErr)}
	case o.running() && o.record.Phase == pidfile.PhaseStopping:
		// We hold the lock a stop holds throughout, so that stop died
		// half-way: finish it, then start afresh.
		m.printf("%s: finishing a stop that was interrupted", s.Name)
		if err := m.stopLocked(ctx, s, o, StopOptions{}); err != nil {
			l.Release()
			return err
		}
		o = m.observe(s)
	case o.running() || o.launching():
		defer l.Release()
		pid := o.record.Leader.PID
		if o.running() && !o.monitorAlive {
			if err := m.adopt(s, o.record); err != nil {
				return &ServiceError{Service: s.Name, Err: err}
			}
			m.printf("%s is already running (pid %d); its supervisor had died, a new one took it over", s.Name, pid)
		} else if o.running() {
			m.printf("%s is already running (pid %d)", s.Name, pid)
		} else {
			m.printf("%s is already being started", s.Name)
		}
		l.Release()
		return m.awaitExisting(ctx, s)
	}
	req, st, err := m.launch(ctx, s, o)
	l.Release()
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	return m.awaitReport(ctx, s, req, st)
}

// launch runs the service's monitor, which launches the service, and
// records the monitor. The caller holds the service's lock.
func (m *Manager) launch(ctx context.Context, s *config.Service, o observation) (*supervise.Request, *pidfile.State, error) {
	if err := m.cleanLeftovers(ctx, s, o); err != nil {
		return nil, nil, err
	}
	if err := checkDir(s.Dir); err != nil {
		return nil, nil, err
	}
	if privilege.Needed(s) {
		if _, err := privilege.Resolve(s); err != nil {
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
	if err := os.MkdirAll(filepath.Dir(s.PidFile), 0o755); err != nil {
		return nil, nil, fmt.Errorf("pid file directory: %w", err)
	}
	crashpoint.Here("start:checked")
	req, err := m.sup.Send("start", s.Name, m.environ)
	if err != nil {
		return nil, nil, err
	}
	crashpoint.Here("start:accepted")
	st := &pidfile.State{Service: s.Name, Monitor: &req.Supervisor, Claim: req.Claim, PidFile: s.PidFile, LogFile: s.LogFile, StartedAt: now(), LogOffset: offset}
	if o.record != nil {
		st.Phase, st.LastExit, st.LastCrash = o.record.Phase, o.record.LastExit, o.record.LastCrash
		st.Restarts = 0
	}
	if err := st.SetPhase(pidfile.PhaseStarting); err != nil {
		req.Close()
		return nil, nil, err
	}
	if err := m.writeState(s, st); err != nil {
		// The supervisor finds no record naming it, and launches nothing.
		req.Close()
		return nil, nil, err
	}
	crashpoint.Here("start:recorded")
	return req, st, nil
}

// spawnSupervisor starts the supervisor of the run_dir, detached in its
// own session, its own messages going to run_dir/supervisor.log.
func (m *Manager) spawnSupervisor() error {
	logFile, _, err := openLog(filepath.Join(m.cfg.RunDir, "supervisor.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	id, err := proc.SpawnDetached(proc.Spec{Argv: m.monitor.Args, Dir: m.cfg.Dir, Env: m.environ, Stdout: logFile, Stderr: logFile}, m.monitor.Path)
	if err != nil {
		return err
	}
	proc.ReapLater(id)
	return nil
}

// adopt gives a running service whose supervisor died a new one.
func (m *Manager) adopt(s *config.Service, st *pidfile.State) error {
	req, err := m.sup.Send("adopt", s.Name, m.environ)
	if err != nil {
		return err
	}
	req.Close()
	st.Monitor, st.Claim = &req.Supervisor, req.Claim
	return m.writeState(s, st)
}

// dismissMonitor asks the supervisor to stop monitoring the service (it
// may be waiting to restart it) and waits until it has.
func (m *Manager) dismissMonitor(st *pidfile.State) {
	if st.Monitor != nil && st.Monitor.Alive() {
		m.sup.Release(st.Service)
	}
}

// awaitReport reads what the supervisor reports of the first launch.
func (m *Manager) awaitReport(ctx context.Context, s *config.Service, req *supervise.Request, st *pidfile.State) error {
	defer req.Close()
	began := time.Now()
	type report struct {
		kind, detail string
		err          error
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
	pid := ""
	for {
		select {
		case <-ctx.Done():
			return &ServiceError{Service: s.Name, Err: errors.New("interrupted while waiting for readiness; left to its supervisor")}
		case r := <-reports:
			switch {
			case r.err != nil:
				return m.startError(s, errors.New("its supervisor ended without a word"))
			case r.kind == supervise.ReportLaunched:
				pid = r.detail
			case r.kind == supervise.ReportReady:
				m.printf("%s started (pid %s%s)", s.Name, pid, readyNote(s, time.Since(began)))
				return nil
			case r.kind == supervise.ReportFailed:
				return m.startError(s, errors.New(r.detail))
			}
		}
	}
}

func readyNote(s *config.Service, took time.Duration) string {
	if s.Ready == nil {
		return ""
	}
	return fmt.Sprintf(", ready after %s: %s %s", took.Round(time.Millisecond), s.Ready.Kind(), s.Ready.Target())
}

// awaitExisting waits until an instance some other command started is
// ready (or has failed), so that every concurrent `start` returns only
// once it is.
func (m *Manager) awaitExisting(ctx context.Context, s *config.Service) error {
	deadline := time.Now().Add(s.StartGrace.Std() + proc.KillWait)
	if s.Ready != nil {
		deadline = time.Now().Add(s.Ready.Timeout.Std() + proc.KillWait)
	}
	wait := 5 * time.Millisecond
	for {
		o := m.observe(s)
		switch {
		case o.running() && o.record.Phase == pidfile.PhaseRunning:
			return nil
		case !o.running() && !o.launching():
			state, detail := o.state()
			return m.startError(s, fmt.Errorf("%s while another start waited for it: %s", state, detail))
		case time.Now().After(deadline):
			return m.startError(s, errors.New("not ready in time (started by another command)"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// cleanLeftovers stops processes of a previous instance that outlived
// their leader (a JVM whose start.sh died), so they cannot hold the
// ports the new instance needs. Only processes carrying that instance's
// token are touched.
func (m *Manager) cleanLeftovers(ctx context.Context, s *config.Service, o observation) error {
	if o.pidErr != nil {
		m.printf("%s: replacing unreadable pid file (%v)", s.Name, o.pidErr)
	}
	if o.record == nil || o.record.Token == "" {
		if o.pidFilePID != 0 {
			m.printf("%s: ignoring stale pid file %s (pid %d is not a process daemonctl started; left alone)", s.Name, s.PidFile, o.pidFilePID)
		}
		return nil
	}
	left, err := o.record.Tree().Members()
	if err != nil || len(left) == 0 {
		return err
	}
	m.printf("%s: stopping %d leftover process(es) of the previous instance", s.Name, len(left))
	_, err = o.record.Tree().Stop(ctx, unix.Signal(s.StopSignal), s.StopTimeout.Std(), proc.KillWait)
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
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, 0, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, 0, fmt.Errorf("log file %s is a symbolic link: refused", path)
		}
		return nil, 0, fmt.Errorf("log file: %w", err)
	}
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

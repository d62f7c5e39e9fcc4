package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/probe"
	"github.com/daemonctl/daemonctl/internal/proc"
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
	set := m.cfg.WithDependencies(services)
	if err := m.checkEnvs(set); err != nil {
		return err
	}
	return inOrder(ctx, set, dependencies, m.startOne)
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
		return err
	}
	o := m.observe(s)
	if o.running() {
		l.Release()
		m.printf("%s is already running (pid %d)", s.Name, o.record.Leader.PID)
		return m.awaitExisting(ctx, s, o.record)
	}
	child, st, err := m.launch(ctx, s, o)
	l.Release()
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	return m.awaitStarted(ctx, s, child, st)
}

// launch runs the service's command detached and records it. The caller
// holds the service's lock.
func (m *Manager) launch(ctx context.Context, s *config.Service, o observation) (*proc.Child, *pidfile.State, error) {
	if o.recordErr != nil {
		return nil, nil, unreadableRecord(o.recordErr)
	}
	if err := m.cleanLeftovers(ctx, s, o); err != nil {
		return nil, nil, err
	}
	if err := checkDir(s.Dir); err != nil {
		return nil, nil, err
	}
	env, err := m.Env(s)
	if err != nil {
		return nil, nil, err
	}
	if err := m.copyEnvFile(s); err != nil {
		return nil, nil, err
	}
	token := newToken()
	env.Set(proc.TokenVar, token)
	env.Set("DAEMONCTL_SERVICE", s.Name)
	logFile, offset, err := openLog(s.LogFile)
	if err != nil {
		return nil, nil, err
	}
	defer logFile.Close()
	if err := os.MkdirAll(filepath.Dir(s.PidFile), 0o755); err != nil {
		return nil, nil, fmt.Errorf("pid file directory: %w", err)
	}
	child, err := proc.Spawn(proc.Spec{Argv: s.Command.Argv, Dir: s.Dir, Env: env.Environ(), Output: logFile})
	if err != nil {
		return nil, nil, err
	}
	st := &pidfile.State{
		Service: s.Name, Leader: child.ID, Token: token,
		PidFile: s.PidFile, LogFile: s.LogFile, StartedAt: now(), LogOffset: offset,
	}
	if o.record != nil {
		st.Phase, st.LastExit = o.record.Phase, o.record.LastExit
	}
	if err := m.record(s, st); err != nil {
		// An instance nobody can find must not be left behind.
		st.Tree().Stop(ctx, unix.SIGKILL, time.Second, time.Second)
		return nil, nil, err
	}
	return child, st, nil
}

// record writes the state record, then the pid file: a crash between the
// two leaves a record that names the process, so it is never lost.
func (m *Manager) record(s *config.Service, st *pidfile.State) error {
	if err := setPhase(st, pidfile.PhaseStarting); err != nil {
		return err
	}
	if err := m.writeState(s, st); err != nil {
		return err
	}
	if err := pidfile.WritePID(s.PidFile, st.Leader.PID); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
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
	_, err = o.record.Tree().Stop(ctx, unix.Signal(s.StopSignal), s.StopTimeout.Std(), killWait)
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

// openLog opens the service's log for appending and returns its size.
func openLog(path string) (*os.File, int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, 0, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
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

// awaitStarted waits until a freshly launched service is ready (or, with
// no probe, has survived its start grace), and records the outcome.
func (m *Manager) awaitStarted(ctx context.Context, s *config.Service, child *proc.Child, st *pidfile.State) error {
	began := time.Now()
	err := m.waitReady(ctx, s, st, child.Done())
	if errors.Is(err, probe.ErrDied) {
		exit := child.Exit()
		m.markFailed(ctx, s, st.Token, &exit)
		return m.startError(s, fmt.Errorf("exited during start: %s", exit))
	}
	if err != nil {
		if ctx.Err() != nil {
			return &ServiceError{Service: s.Name, Err: fmt.Errorf("interrupted while waiting for readiness; left running (pid %d)", st.Leader.PID)}
		}
		// Not ready in time: stop it, as systemd does on a start timeout,
		// rather than leave a half-started server behind.
		st.Tree().Stop(ctx, unix.Signal(s.StopSignal), s.StopTimeout.Std(), killWait)
		m.markFailed(ctx, s, st.Token, nil)
		return m.startError(s, fmt.Errorf("%w; stopped it", err))
	}
	m.markReady(ctx, s, st.Token)
	m.printf("%s started (pid %d%s)", s.Name, st.Leader.PID, readyNote(s, time.Since(began)))
	return nil
}

func readyNote(s *config.Service, took time.Duration) string {
	if s.Ready == nil {
		return ""
	}
	return fmt.Sprintf(", ready after %s: %s %s", took.Round(time.Millisecond), s.Ready.Kind(), s.Ready.Target())
}

// awaitExisting waits for an instance some other command started until it
// is ready, so that every concurrent `start` returns only once it is.
func (m *Manager) awaitExisting(ctx context.Context, s *config.Service, st *pidfile.State) error {
	if st.Phase != pidfile.PhaseStarting {
		return nil
	}
	watch, cancel := context.WithCancel(ctx)
	defer cancel()
	died := proc.WatchExit(watch, st.Leader)
	if err := m.waitReady(ctx, s, st, died); err != nil {
		return m.startError(s, err)
	}
	m.markReady(ctx, s, st.Token)
	return nil
}

// waitReady runs the service's readiness probe, or with none, waits out
// its start grace, failing early with probe.ErrDied if died closes.
func (m *Manager) waitReady(ctx context.Context, s *config.Service, st *pidfile.State, died <-chan struct{}) error {
	if s.Ready == nil {
		grace := s.StartGrace.Std()
		if grace == 0 {
			return nil
		}
		select {
		case <-died:
			return probe.ErrDied
		case <-time.After(grace):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p, err := m.probeFor(s, st)
	if err != nil {
		return err
	}
	return probe.Wait(ctx, p, s.Ready.Timeout.Std(), died)
}

func (m *Manager) probeFor(s *config.Service, st *pidfile.State) (probe.Probe, error) {
	r := s.Ready
	switch r.Kind() {
	case "tcp":
		return probe.TCP{Addr: r.TCP}, nil
	case "http":
		return probe.HTTP{URL: r.HTTP}, nil
	case "log":
		return &probe.Log{File: s.LogFile, Pattern: r.LogPattern, Offset: st.LogOffset}, nil
	}
	env, err := m.Env(s)
	if err != nil {
		return nil, err
	}
	return probe.Exec{Argv: r.Exec, Dir: s.Dir, Env: env.Environ()}, nil
}

func (m *Manager) markReady(ctx context.Context, s *config.Service, token string) {
	m.updateState(context.WithoutCancel(ctx), s, token, func(st *pidfile.State) {
		if st.Phase == pidfile.PhaseStarting && setPhase(st, pidfile.PhaseRunning) == nil {
			t := now()
			st.ReadyAt = &t
		}
	})
}

func (m *Manager) markFailed(ctx context.Context, s *config.Service, token string, exit *proc.ExitStatus) {
	m.updateState(context.WithoutCancel(ctx), s, token, func(st *pidfile.State) {
		if setPhase(st, pidfile.PhaseFailed) == nil && exit != nil {
			st.LastExit = exit
		}
	})
}

// startError wraps err with the last lines of the service's log.
func (m *Manager) startError(s *config.Service, err error) error {
	tail, _ := logs.Tail(s.LogFile, LogTailLines)
	return &ServiceError{Service: s.Name, Err: err, LogFile: s.LogFile, LogTail: tail}
}

package lifecycle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/pidfile"
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
	err = inOrder(ctx, set, dependencies, m.startOne)
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
	case o.running() || o.launching():
		defer l.Release()
		pid := o.record.Leader.PID
		if o.running() && !o.monitorAlive {
			if err := m.adopt(s, o.record); err != nil {
				return &ServiceError{Service: s.Name, Err: err}
			}
			m.printf("%s is already running (pid %d); its monitor had died, a new one took it over", s.Name, pid)
		} else if o.running() {
			m.printf("%s is already running (pid %d)", s.Name, pid)
		} else {
			m.printf("%s is already being started", s.Name)
		}
		l.Release()
		return m.awaitExisting(ctx, s)
	case o.restarting():
		// Start now rather than when the backoff ends.
		m.dismissMonitor(ctx, o.record)
	}
	report, st, err := m.launch(ctx, s, o)
	l.Release()
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	return m.awaitReport(ctx, s, report, st)
}

// launch runs the service's monitor, which launches the service, and
// records the monitor. The caller holds the service's lock.
func (m *Manager) launch(ctx context.Context, s *config.Service, o observation) (*os.File, *pidfile.State, error) {
	if err := m.cleanLeftovers(ctx, s, o); err != nil {
		return nil, nil, err
	}
	if err := checkDir(s.Dir); err != nil {
		return nil, nil, err
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
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer reportW.Close()
	monitor, err := m.spawnMonitor(s, logFile, []*os.File{reportW})
	if err != nil {
		reportR.Close()
		return nil, nil, err
	}
	st := &pidfile.State{Service: s.Name, Monitor: &monitor, PidFile: s.PidFile, LogFile: s.LogFile, StartedAt: now(), LogOffset: offset}
	if o.record != nil {
		st.Phase, st.LastExit, st.LastCrash = o.record.Phase, o.record.LastExit, o.record.LastCrash
	}
	if err := st.SetPhase(pidfile.PhaseStarting); err != nil {
		reportR.Close()
		return nil, nil, err
	}
	if err := m.writeState(s, st); err != nil {
		// A monitor nobody recorded must not go on.
		unix.Kill(monitor.PID, unix.SIGKILL)
		reportR.Close()
		return nil, nil, err
	}
	return reportR, st, nil
}

// spawnMonitor runs the service's monitor in its own session. Its own
// output (a panic, say) goes to the service's log.
func (m *Manager) spawnMonitor(s *config.Service, logFile *os.File, extra []*os.File, flags ...string) (proc.Identity, error) {
	argv := append(append(append([]string{}, m.monitor.Args...), flags...), s.Name)
	return proc.SpawnDetached(proc.Spec{Argv: argv, Dir: m.cfg.Dir, Env: m.environ, Stdout: logFile, Stderr: logFile, ExtraFiles: extra}, m.monitor.Path)
}

// adopt gives a running service whose monitor died a new monitor.
func (m *Manager) adopt(s *config.Service, st *pidfile.State) error {
	logFile, _, err := openLog(s.LogFile)
	if err != nil {
		return err
	}
	defer logFile.Close()
	monitor, err := m.spawnMonitor(s, logFile, nil, "--adopt")
	if err != nil {
		return err
	}
	st.Monitor = &monitor
	return m.writeState(s, st)
}

// dismissMonitor tells a service's monitor to go and waits until it has.
func (m *Manager) dismissMonitor(ctx context.Context, st *pidfile.State) {
	if st.Monitor == nil {
		return
	}
	h, err := proc.Open(*st.Monitor)
	if err != nil {
		return
	}
	defer h.Close()
	h.Signal(unix.SIGTERM)
	wait, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	if proc.WaitAll(wait, []*proc.Handle{h}) != nil {
		h.Signal(unix.SIGKILL)
	}
}

// awaitReport reads what the monitor reports of the first launch.
func (m *Manager) awaitReport(ctx context.Context, s *config.Service, report *os.File, st *pidfile.State) error {
	defer report.Close()
	began := time.Now()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(report)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	pid := ""
	for {
		select {
		case <-ctx.Done():
			return &ServiceError{Service: s.Name, Err: errors.New("interrupted while waiting for readiness; left to its monitor")}
		case line, ok := <-lines:
			if !ok {
				return m.startError(s, errors.New("its monitor ended without a word"))
			}
			kind, detail, _ := strings.Cut(line, " ")
			switch kind {
			case "launched":
				pid = detail
			case "ready":
				m.printf("%s started (pid %s%s)", s.Name, pid, readyNote(s, time.Since(began)))
				return nil
			case "failed":
				return m.startError(s, errors.New(detail))
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
	deadline := time.Now().Add(s.StartGrace.Std() + killWait)
	if s.Ready != nil {
		deadline = time.Now().Add(s.Ready.Timeout.Std() + killWait)
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

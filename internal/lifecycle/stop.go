package lifecycle

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/crashpoint"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// StopOptions tune a stop.
type StopOptions struct {
	// Timeout overrides each service's stop_timeout when non-zero.
	Timeout time.Duration
	// Adopt takes over a server another tool started (Adopt) to stop it;
	// without it such a server is left running, and the stop fails.
	Adopt bool
}

// Stop stops the named services (all when none is named), each only after
// every service that depends on it has stopped; independent services stop
// in parallel.
func (m *Manager) Stop(ctx context.Context, names []string, opts StopOptions) error {
	m.newScan()
	services, err := m.selectAll(names)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		services = m.leaveShared(services)
	}
	return inOrder(ctx, services, m.dependents, func(ctx context.Context, s *config.Service) error {
		return m.stopOne(ctx, s, opts)
	})
}

// stopOne signals the service's whole process tree, waits until it is
// gone (SIGKILL after the grace period), and records that it was stopped.
func (m *Manager) stopOne(ctx context.Context, s *config.Service, opts StopOptions) error {
	l, err := m.lock(ctx, s)
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	o := m.observe(s)
	handedOver, err := m.stopLocked(ctx, s, o, opts)
	l.Release()
	// Unless it handed the exit over, the monitor records the exit under
	// the lock, then leaves; it is told to go in case it is waiting to
	// restart, and waited for, so that nothing of the service is left
	// once stop returns. One that handed it over leaves by itself.
	if o.Record != nil && o.SupervisorAlive && !handedOver {
		m.release(o.Record)
	}
	if err == nil && m.isRemoved(s) {
		m.forget(s)
	}
	return err
}

// stopLocked stops the service, its lock held. It reports whether the
// supervisor handed it the exit, which it then recorded (HandOver).
func (m *Manager) stopLocked(ctx context.Context, s *config.Service, o state.Observation, opts StopOptions) (bool, error) {
	if o.RecordErr != nil {
		return false, &ServiceError{Service: s.Name, Err: unreadableRecord(o.RecordErr)}
	}
	st := o.Record
	if o.Foreign != nil && !opts.Adopt {
		return false, &ServiceError{Service: s.Name, Err: foreignError(o.Foreign, "not stopping it (stop --adopt takes it over, then stops it)")}
	}
	if o.Foreign != nil {
		adopted, err := m.adoptLocked(ctx, s, o, o.Foreign.Identity)
		if err != nil {
			return false, &ServiceError{Service: s.Name, Err: err}
		}
		st, o.Record = adopted, adopted
	}
	if st == nil || st.Phase == state.PhaseStopped {
		return false, m.clearStale(s, o)
	}
	// The scan for the rest of the tree reads while the stop is recorded.
	look := st.Tree().BeginLook()
	// Recorded before any signal, so that whoever watches the service
	// knows its exit was asked for.
	if err := st.RequestStop(); err != nil {
		return false, &ServiceError{Service: s.Name, Err: err}
	}
	if err := m.writeRecord(s, st); err != nil {
		return false, &ServiceError{Service: s.Name, Err: err}
	}
	grace := s.StopTimeout.Std()
	if opts.Timeout > 0 {
		grace = opts.Timeout
	}
	crashpoint.Here("stop:claimed")
	began := time.Now()
	handOver := m.beginHandOver(ctx, o)
	res, err := st.Tree().StopAfter(ctx, look, unix.Signal(s.StopSignal), grace, proc.KillWait)
	exit, handedOver := handOver(res, err)
	if err != nil {
		return false, &ServiceError{Service: s.Name, Err: fmt.Errorf("unable to stop: %w", err)}
	}
	crashpoint.Here("stop:signalled")
	if err := m.markStopped(s, st, exit); err != nil {
		return false, &ServiceError{Service: s.Name, Err: err}
	}
	if res.Signalled == 0 {
		return false, m.clearStale(s, o)
	}
	took := time.Since(began).Round(time.Millisecond)
	m.did(s.Name, ActionStopped)
	if res.Killed {
		m.printf("%s stopped (pid %d): still running after %s, killed", s.Name, st.Leader.PID, grace)
	} else {
		m.printf("%s stopped (pid %d, %s)", s.Name, st.Leader.PID, took)
	}
	return handedOver, nil
}

// beginHandOver learns the exit of the instance the stop is ending, for
// the stop to record with the stop (HandOver): the monitor then has
// nothing to write, and the stop need not wait for it to take the lock
// after us and leave. Where the kernel tells (exitFromKernel), the exit
// is read off the leader's pidfd once the supervisor has reaped it;
// else the supervisor is asked, as soon as the leader is gone, while the
// stop still makes sure the rest of its tree is. The returned func gives
// the exit once the stop is done, and none when the stop failed or no
// exit came.
func (m *Manager) beginHandOver(ctx context.Context, o state.Observation) func(proc.StopResult, error) (*proc.ExitStatus, bool) {
	none := func(proc.StopResult, error) (*proc.ExitStatus, bool) { return nil, false }
	st := o.Record
	if !o.SupervisorAlive || st.Claim == "" {
		return none
	}
	leader, err := proc.Open(st.Leader)
	if err != nil {
		return none // gone already: nothing of it for this stop to hear
	}
	reapedBySupervisor := childOf(st.Leader, st.Supervisor)
	type answer struct {
		exit proc.ExitStatus
		ok   bool
	}
	answers := make(chan answer, 1)
	leaderGone, cancel := context.WithCancel(ctx)
	go func() {
		defer leader.Close()
		if proc.WaitAll(leaderGone, []*proc.Handle{leader}) != nil {
			answers <- answer{}
			return
		}
		if reapedBySupervisor {
			if exit, ok := exitFromKernel(leaderGone, leader); ok {
				answers <- answer{exit, true}
				return
			}
		}
		exit, ok, err := m.sup.HandOver(st.Service, st.Claim, st.Token)
		answers <- answer{exit, ok && err == nil}
	}()
	return func(res proc.StopResult, err error) (*proc.ExitStatus, bool) {
		defer cancel()
		if err != nil {
			return nil, false // the monitor records what it sees, and is released
		}
		a := <-answers
		if !a.ok || res.Signalled == 0 {
			return nil, false
		}
		return &a.exit, true
	}
}

// reapWait bounds how long a stop waits for the supervisor to reap the
// leader before it asks the supervisor instead, as long as the
// supervisor waits for its monitor (handOverWait).
const reapWait = 250 * time.Millisecond

// exitFromKernel reads the exit of the leader, which has exited, off its
// pidfd once the supervisor has reaped it (proc.Handle.WaitReaped),
// without a round trip to the supervisor: its monitor, which reaped the
// leader with the same status, finds the exit recorded and leaves
// without writing. Only for a leader that is the supervisor's child
// (childOf): a monitor that took over a leader from a supervisor that
// died, or watches an adopted server, is not its parent, records the
// exit as unknown, and would write it over the one the stop recorded. A
// variable, so that tests can take the supervisor's way.
var exitFromKernel = func(ctx context.Context, leader *proc.Handle) (proc.ExitStatus, bool) {
	ctx, cancel := context.WithTimeout(ctx, reapWait)
	defer cancel()
	exit, err := leader.WaitReaped(ctx)
	return exit, err == nil
}

// childOf reports whether process id is a child of parent.
func childOf(id proc.Identity, parent *proc.Identity) bool {
	if parent == nil {
		return false
	}
	info, err := proc.Inspect(id.PID)
	return err == nil && info.Identity == id && info.PPID == parent.PID
}

// markStopped records the stop, with the instance's exit when it is
// known, and removes the pid file if it still names this instance.
func (m *Manager) markStopped(s *config.Service, st *state.Record, exit *proc.ExitStatus) error {
	if err := pidfile.RemovePIDIf(s.PidFile, st.Leader.PID); err != nil {
		return fmt.Errorf("remove pid file: %w", err)
	}
	if exit != nil {
		if err := st.Exit(*exit, nil); err != nil {
			return err
		}
	}
	if err := st.MarkStopped(); err != nil {
		return err
	}
	return m.writeRecord(s, st)
}

// clearStale handles a service with nothing to stop: a pid file that names
// a process daemonctl did not start (or garbage) is removed so the service
// reads stopped, and that process is left alone.
func (m *Manager) clearStale(s *config.Service, o state.Observation) error {
	m.did(s.Name, ActionNotRunning)
	ownPID := 0
	if o.Record != nil {
		ownPID = o.Record.Leader.PID
	}
	if foreignPidFile(o) {
		// Whoever wrote it, a pid file naming a live process is never
		// removed: it may be the only way to find that process.
		m.printf("%s is not running (its pid file names pid %d, %s, which daemonctl did not start: file and process left alone)", s.Name, o.PidFilePID, proc.CommandLine(o.PidFilePID))
		return nil
	}
	if (o.PidFilePID != 0 && o.PidFilePID != ownPID) || o.PidErr != nil {
		if err := os.Remove(s.PidFile); err != nil && !os.IsNotExist(err) {
			return &ServiceError{Service: s.Name, Err: fmt.Errorf("remove stale pid file: %w", err)}
		}
		if o.PidErr != nil {
			m.printf("%s is not running (removed unreadable pid file %s)", s.Name, s.PidFile)
		} else {
			m.printf("%s is not running (removed stale pid file naming pid %d, which was left alone)", s.Name, o.PidFilePID)
		}
		return nil
	}
	m.printf("%s is not running", s.Name)
	return nil
}

// Restart stops the named services (all when none is named) and starts
// them again. With opts.Rolling, it restarts them one at a time in dependency
// order, each running and ready before the next is stopped.
func (m *Manager) Restart(ctx context.Context, names []string, opts RestartOptions) error {
	services, err := m.selectConfigured(names)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		services = m.leaveShared(services)
		if len(services) == 0 {
			return nil
		}
		names = serviceNames(services)
	}
	defer m.relabel(serviceNames(services), ActionStarted, ActionRestarted)
	start := m.starter(opts.NoDeps)
	if !opts.Rolling {
		if err := m.Stop(ctx, names, StopOptions{}); err != nil {
			return err
		}
		return start(ctx, names)
	}
	for _, s := range config.TopoOrder(services) {
		if err := m.stopOne(ctx, s, StopOptions{}); err != nil {
			return err
		}
		if err := start(ctx, []string{s.Name}); err != nil {
			return err
		}
	}
	return nil
}

// RestartOptions change how Restart goes about it.
type RestartOptions struct {
	// Rolling restarts one service at a time, each ready before the next.
	Rolling bool
	// NoDeps starts only the named services again, not what they depend
	// on (which `cluster restart` sees to on their own hosts).
	NoDeps bool
}

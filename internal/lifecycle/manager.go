// Package lifecycle owns what commands do to services: start (pre-flight,
// then a request to the run_dir's supervisor, then the wait for
// readiness), stop (the tree signalled, waited for, recorded), status, and
// restart, for one service and for many along their dependency graph.
// Each step moves the service's record through package state's machine;
// commands call this package, they do not re-implement it.
package lifecycle

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/inherit"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/state"
	"github.com/daemonctl/daemonctl/internal/supervisor"
)

// Manager runs the lifecycle of the services of one config.
type Manager struct {
	cfg     *config.Config
	environ []string
	store   state.Store
	supCmd  SupervisorCommand
	sup     *supervisor.Client

	mu       sync.Mutex
	out      io.Writer
	outcomes map[string]string // service: what was done (did)
	order    []string

	ownerOnce sync.Once
	ownerErr  error // the run_dir is not this config's

	lostOnce sync.Once
	lost     bool // run_dir names no config: never used, or deleted

	inherit func() (inherit.Attrs, error)
	// scan is the current command's scan of the processes other tools
	// started (newScan); a manager lives on in a run, so it is not kept
	// from one command to the next.
	scan atomic.Pointer[foreignScan]
}

// SupervisorCommand says how to run the supervisor of the config's
// run_dir, which monitors every service: Path is executed with Args.
// daemonctl runs itself: `daemonctl --config CONFIG __supervisor`.
type SupervisorCommand struct {
	Path string
	Args []string
}

// New returns a Manager for cfg. environ is the caller's environment, the
// base every service's environment is built on; progress lines go to out;
// sup is how the run_dir's supervisor is run.
func New(cfg *config.Config, environ []string, out io.Writer, sup SupervisorCommand) *Manager {
	if out == nil {
		out = io.Discard
	}
	m := &Manager{cfg: cfg, environ: environ, out: out, store: state.Store{Dir: cfg.RunDir}, supCmd: sup}
	m.sup = &supervisor.Client{RunDir: cfg.RunDir, Spawn: m.spawnSupervisor}
	m.inherit = sync.OnceValues(inherit.Current)
	return m
}

// caller is what the services this manager starts inherit from it: its
// environment, umask and resource limits.
func (m *Manager) caller() supervisor.Caller {
	c := supervisor.Caller{Environ: m.environ}
	if a, err := m.inherit(); err == nil {
		c.Inherit = &a
	}
	return c
}

// UseSupervisor has the manager send its requests to the supervisor
// serving socket (a file in run_dir), a foreground run's, instead of the
// run_dir's own, which it would start if need be.
func (m *Manager) UseSupervisor(socket string) {
	m.sup.Socket = socket
	m.sup.Spawn = func() error { return fmt.Errorf("the run's supervisor (%s) does not answer", socket) }
}

// Config returns the config the manager runs.
func (m *Manager) Config() *config.Config { return m.cfg }

// printf writes one progress line; services run in parallel, so lines are
// written whole.
func (m *Manager) printf(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.out, format+"\n", args...)
}

// lock takes service s's lock, once the run_dir is known to be this
// config's (claimed for it if it is nobody's yet).
func (m *Manager) lock(ctx context.Context, s *config.Service) (*pidfile.Lock, error) {
	l, err := m.store.Lock(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	m.ownerOnce.Do(func() {
		m.runDirLost() // before the claim below makes it look used
		m.ownerErr = m.store.CheckOwner(m.cfg.Path, true)
	})
	if m.ownerErr != nil {
		l.Release()
		return nil, m.ownerErr
	}
	return l, nil
}

// runDirLost reports whether run_dir names no config: it was never used,
// or it was deleted under running services, whose records must then be
// recovered from /proc.
func (m *Manager) runDirLost() bool {
	m.lostOnce.Do(func() { m.lost = !m.store.Claimed() })
	return m.lost
}

// observe looks at service s: its record and what /proc shows, and when
// the run_dir was lost, the instance its record would have named.
func (m *Manager) observe(s *config.Service) state.Observation {
	return m.observeIn(m.store, s)
}

// observeIn is observe through store (a Snapshot, for a look at many).
func (m *Manager) observeIn(store state.Store, s *config.Service) state.Observation {
	o := store.Observe(s.Name, s.PidFile)
	if o.Record == nil && o.RecordErr == nil && m.runDirLost() {
		if rec, n := m.store.Recover(s.Name, s.PidFile, s.LogFile); rec != nil {
			return state.Observation{Record: rec, LeaderAlive: true, Recovered: n, PidFilePID: o.PidFilePID, PidErr: o.PidErr}
		}
	}
	if o.RecordErr == nil {
		o.Foreign = m.findForeign(s, o)
	}
	return o
}

func (m *Manager) writeRecord(s *config.Service, r *state.Record) error {
	return m.store.Write(s.Name, r)
}

// unreadableRecord explains what to do about a state record that cannot
// be read: daemonctl cannot tell which process is the service, so it
// neither starts a second one nor signals a guess.
func unreadableRecord(err error) error {
	return fmt.Errorf("%w; check that no instance is running, then remove the state file", err)
}

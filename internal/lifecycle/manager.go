// Package lifecycle owns what daemonctl does to services: the start, stop
// and status of one service as a small state machine over its state record,
// and the ordering of many services along their dependency graph. Commands
// call it; they do not re-implement it.
package lifecycle

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/supervise"
)

// Manager runs the lifecycle of the services of one config.
type Manager struct {
	cfg     *config.Config
	environ []string
	store   pidfile.Store
	monitor MonitorCommand
	sup     *supervise.Client

	mu  sync.Mutex
	out io.Writer
}

// MonitorCommand says how to run the supervisor of the config's run_dir,
// which monitors every service: Path is executed with Args. daemonctl runs
// itself: `daemonctl --config CONFIG __supervisor`.
type MonitorCommand struct {
	Path string
	Args []string
}

// New returns a Manager for cfg. environ is the caller's environment, the
// base every service's environment is built on; progress lines go to out;
// monitor is how each service's monitor is run.
func New(cfg *config.Config, environ []string, out io.Writer, monitor MonitorCommand) *Manager {
	if out == nil {
		out = io.Discard
	}
	m := &Manager{cfg: cfg, environ: environ, out: out, store: pidfile.Store{Dir: cfg.RunDir}, monitor: monitor}
	m.sup = &supervise.Client{RunDir: cfg.RunDir, Spawn: m.spawnSupervisor}
	return m
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

func (m *Manager) lock(ctx context.Context, s *config.Service) (*pidfile.Lock, error) {
	return m.store.Lock(ctx, s.Name)
}

func (m *Manager) readState(s *config.Service) (*pidfile.State, error) { return m.store.Read(s.Name) }

func (m *Manager) writeState(s *config.Service, st *pidfile.State) error {
	return m.store.Write(s.Name, st)
}

func now() time.Time { return time.Now().UTC() }

// unreadableRecord explains what to do about a state record that cannot
// be read: daemonctl cannot tell which process is the service, so it
// neither starts a second one nor signals a guess.
func unreadableRecord(err error) error {
	return fmt.Errorf("%w; check that no instance is running, then remove the state file", err)
}

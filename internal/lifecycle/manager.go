// Package lifecycle owns what daemonctl does to services: the start, stop
// and status of one service as a small state machine over its state record,
// and the ordering of many services along their dependency graph. Commands
// call it; they do not re-implement it.
package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
)

// Manager runs the lifecycle of the services of one config.
type Manager struct {
	cfg     *config.Config
	environ []string

	mu  sync.Mutex
	out io.Writer
}

// New returns a Manager for cfg. environ is the caller's environment, the
// base every service's environment is built on; progress lines go to out.
func New(cfg *config.Config, environ []string, out io.Writer) *Manager {
	if out == nil {
		out = io.Discard
	}
	return &Manager{cfg: cfg, environ: environ, out: out}
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

func (m *Manager) statePath(s *config.Service) string {
	return filepath.Join(m.cfg.RunDir, s.Name+".state")
}

func (m *Manager) lockPath(s *config.Service) string {
	return filepath.Join(m.cfg.RunDir, s.Name+".lock")
}

// lock takes the service's lock, creating run_dir if needed.
func (m *Manager) lock(ctx context.Context, s *config.Service) (*pidfile.Lock, error) {
	if err := os.MkdirAll(m.cfg.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("run_dir: %w", err)
	}
	return pidfile.Acquire(ctx, m.lockPath(s))
}

func (m *Manager) readState(s *config.Service) (*pidfile.State, error) {
	return pidfile.ReadState(m.statePath(s))
}

func (m *Manager) writeState(s *config.Service, st *pidfile.State) error {
	if err := pidfile.WriteState(m.statePath(s), st); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// updateState re-reads the record under the service's lock and applies fn
// if it still describes the instance with token.
func (m *Manager) updateState(ctx context.Context, s *config.Service, token string, fn func(*pidfile.State)) error {
	l, err := m.lock(ctx, s)
	if err != nil {
		return err
	}
	defer l.Release()
	st, err := m.readState(s)
	if err != nil || st == nil || st.Token != token {
		return err
	}
	fn(st)
	return m.writeState(s, st)
}

func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func now() time.Time { return time.Now().UTC() }

// killWait is how long a tree gets to vanish after SIGKILL before stop
// reports it unkillable.
const killWait = 5 * time.Second

// unreadableRecord explains what to do about a state record that cannot
// be read: daemonctl cannot tell which process is the service, so it
// neither starts a second one nor signals a guess.
func unreadableRecord(err error) error {
	return fmt.Errorf("%w; check that no instance is running, then remove the state file", err)
}

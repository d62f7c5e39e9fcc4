package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/daemonctl/daemonctl/internal/backoff"
	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/probe"
	"github.com/daemonctl/daemonctl/internal/safepath"
)

// Prepare does for the named services (all when none is named) what a
// start does before it launches anything, and nothing more: the config
// is valid, each environment resolves, the working directory exists, the
// log and pid file directories are there and writable, and env_copy_to
// is written. For init containers and image builds.
func (m *Manager) Prepare(names []string) error {
	services, err := m.selectConfigured(names)
	if err != nil {
		return err
	}
	if err := m.checkEnvs(services); err != nil {
		return err
	}
	var failures Failures
	for _, s := range services {
		if err := m.prepare(s); err != nil {
			failures = append(failures, &ServiceError{Service: s.Name, Err: err})
			continue
		}
		m.printf("%s prepared", s.Name)
	}
	if len(failures) > 0 {
		return failures
	}
	return nil
}

func (m *Manager) prepare(s *config.Service) error {
	if err := checkDir(s.Dir); err != nil {
		return err
	}
	logFile, _, err := openLog(s.LogFile)
	if err != nil {
		return err
	}
	logFile.Close()
	pidDir, err := safepath.OpenDir(filepath.Dir(s.PidFile), true)
	if err != nil {
		return fmt.Errorf("pid file directory: %w", err)
	}
	pidDir.Close()
	return m.copyEnvFile(s)
}

// ErrNoProbe is Probe's error for a service with no readiness probe.
var ErrNoProbe = errors.New("has no ready probe in the config")

// Probe runs service name's readiness probe once, or with wait > 0 until
// it passes or wait is over, against the server wherever it runs: what a
// Kubernetes exec probe or an init container waiting for ZooKeeper runs.
// It returns nil when the probe passes, else why not.
func (m *Manager) Probe(ctx context.Context, name string, wait time.Duration) error {
	services, err := m.cfg.Select([]string{name})
	if err != nil {
		return err
	}
	s := services[0]
	if s.Ready == nil {
		return fmt.Errorf("%s %w", s.Name, ErrNoProbe)
	}
	env, err := m.Env(s)
	if err != nil {
		return err
	}
	var offset int64
	if r, _ := m.store.Read(s.Name); r != nil {
		offset = r.LogOffset // a log probe reads this instance's output
	}
	p := probe.For(s.Ready, probe.Target{Dir: s.Dir, Env: env.Environ(), LogFile: s.LogFile, LogOffset: offset})
	check := func() error {
		ctx, cancel := context.WithTimeout(ctx, min(s.Ready.Timeout.Std(), 10*time.Second))
		defer cancel()
		return p.Check(ctx)
	}
	if wait <= 0 {
		if err := check(); err != nil {
			return fmt.Errorf("%s: not ready: %s: %w", s.Name, p, err)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var last error
	err = backoff.Until(ctx, backoff.Policy{Initial: 50 * time.Millisecond, Max: time.Second}, func() (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("%s: not ready after %s: %s: %v", s.Name, wait, p, last)
	}
	return nil
}

package lifecycle

import (
	"fmt"
	"os"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/envfile"
	"github.com/daemonctl/daemonctl/internal/pidfile"
)

// Env resolves the environment service s runs with (envfile.Resolve) on
// the caller's environment.
func (m *Manager) Env(s *config.Service) (*envfile.Env, error) {
	return envfile.Resolve(m.cfg, s, m.environ)
}

// copyEnvFile writes the shared env file to the service's env_copy_to
// path, atomically, for servers whose own start script sources it.
func (m *Manager) copyEnvFile(s *config.Service) error {
	if s.EnvCopyTo == "" || m.cfg.EnvFile == "" {
		return nil
	}
	b, err := os.ReadFile(m.cfg.EnvFile)
	if err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	if err := pidfile.WriteAtomic(s.EnvCopyTo, b, 0o644); err != nil {
		return fmt.Errorf("env_copy_to %s: %w", s.EnvCopyTo, err)
	}
	return nil
}

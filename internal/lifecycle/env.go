package lifecycle

import (
	"fmt"
	"os"
	"syscall"

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
// path, atomically, for servers whose own start script sources it. The
// copy has the source's mode and owner: an env file holding a database
// password stays as closed as the operator made it.
func (m *Manager) copyEnvFile(s *config.Service) error {
	if s.EnvCopyTo == "" || m.cfg.EnvFile == "" {
		return nil
	}
	b, err := os.ReadFile(m.cfg.EnvFile)
	if err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	fi, err := os.Stat(m.cfg.EnvFile)
	if err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	owner := fi.Sys().(*syscall.Stat_t)
	if err := pidfile.WriteAtomicAs(s.EnvCopyTo, b, fi.Mode().Perm(), int(owner.Uid), int(owner.Gid)); err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	return nil
}

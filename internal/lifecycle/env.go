package lifecycle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/envfile"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/safepath"
)

// Env resolves the environment service s runs with (envfile.Resolve) on
// the caller's environment.
func (m *Manager) Env(s *config.Service) (*envfile.Env, error) {
	return envfile.Resolve(m.cfg, s, m.environ)
}

// copyEnvFile writes the shared env file to the service's env_copy_to
// path, atomically, for servers whose own start script sources it, with
// the service's own settings appended as exports: the script's sourcing
// of the file would otherwise undo them with the shared file's. The copy
// has the source's mode and owner: an env file holding a database
// password stays as closed as the operator made it.
func (m *Manager) copyEnvFile(s *config.Service) error {
	if s.EnvCopyTo == "" || m.cfg.EnvFile == "" {
		return nil
	}
	b, err := os.ReadFile(m.cfg.EnvFile)
	if err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	overrides, err := envfile.Overrides(m.cfg, s, m.environ)
	if err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	if len(overrides) > 0 {
		var extra strings.Builder
		fmt.Fprintf(&extra, "\n# daemonctl: %s's own settings (its env and env_file in %s), after the shared\n# file's, so that they win when its start script sources this file.\n", s.Name, filepath.Base(m.cfg.Path))
		for _, kv := range overrides {
			fmt.Fprintf(&extra, "export %s=%s\n", kv[0], envfile.Quote(kv[1]))
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		b = append(b, extra.String()...)
	}
	fi, err := os.Stat(m.cfg.EnvFile)
	if err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	dir, err := safepath.OpenDir(filepath.Dir(s.EnvCopyTo), true)
	if err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	dir.Close()
	owner := fi.Sys().(*syscall.Stat_t)
	if err := pidfile.WriteAtomicAs(s.EnvCopyTo, b, fi.Mode().Perm(), int(owner.Uid), int(owner.Gid)); err != nil {
		return fmt.Errorf("env_copy_to: %w", err)
	}
	return nil
}

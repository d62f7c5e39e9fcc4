package lifecycle

import (
	"fmt"
	"os"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/envfile"
	"github.com/daemonctl/daemonctl/internal/pidfile"
)

// Env resolves the environment service s runs with, in the contract's
// order: the caller's environment, the shared env_file, the shared env,
// the service's env_file, the service's env.
func (m *Manager) Env(s *config.Service) (*envfile.Env, error) {
	env := envfile.FromEnviron(m.environ)
	if err := apply(env, m.cfg.EnvFile, m.cfg.Env, "env"); err != nil {
		return nil, err
	}
	if err := apply(env, s.EnvFile, s.Env, "services."+s.Name+".env"); err != nil {
		return nil, err
	}
	return env, nil
}

func apply(env *envfile.Env, file string, vars config.Vars, where string) error {
	if file != "" {
		if err := env.LoadFile(file); err != nil {
			return err
		}
	}
	for _, v := range vars {
		value, err := env.Expand(v.Value)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", where, v.Key, err)
		}
		env.Set(v.Key, value)
	}
	return nil
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

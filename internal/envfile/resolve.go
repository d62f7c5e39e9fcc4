package envfile

import (
	"fmt"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/privilege"
)

// Resolve builds the environment service s of cfg runs with, in the
// contract's order: environ (the caller's environment), then for a service
// with a user: its HOME, USER and LOGNAME (not root's), then the shared
// env_file, the shared env, the service's env_file, the service's env.
func Resolve(cfg *config.Config, s *config.Service, environ []string) (*Env, error) {
	env := FromEnviron(environ)
	if s.User != "" {
		login, err := privilege.LoginEnv(s.User)
		if err != nil {
			return nil, err
		}
		for _, kv := range login {
			env.Set(kv[0], kv[1])
		}
	}
	if err := env.layer(cfg.EnvFile, cfg.Env, "env"); err != nil {
		return nil, err
	}
	if err := env.layer(s.EnvFile, s.Env, "services."+s.Name+".env"); err != nil {
		return nil, err
	}
	return env, nil
}

// layer loads file, if any, then sets vars, expanding each on what is set
// so far; where names the vars in errors.
func (e *Env) layer(file string, vars config.Vars, where string) error {
	if file != "" {
		if err := e.LoadFile(file); err != nil {
			return err
		}
	}
	for _, v := range vars {
		value, err := e.Expand(v.Key, v.Value)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", where, v.Key, err)
		}
		e.Set(v.Key, value)
	}
	return nil
}

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
	env, _, err := resolve(cfg, s, environ)
	return env, err
}

// resolve is Resolve, also returning the environment as it stood right
// after the shared env file (Overrides compares the two).
func resolve(cfg *config.Config, s *config.Service, environ []string) (env, afterShared *Env, err error) {
	if env, err = base(s, environ); err != nil {
		return nil, nil, err
	}
	if err := env.load(file{cfg.EnvFile, cfg.EnvFileExec, s.User}); err != nil {
		return nil, nil, err
	}
	afterShared = env.Clone()
	if err := env.setVars(cfg.Env, "env"); err != nil {
		return nil, nil, err
	}
	if err := env.load(file{s.EnvFile, s.EnvFileExec, s.User}); err != nil {
		return nil, nil, err
	}
	if err := env.setVars(s.Env, "services."+s.Name+".env"); err != nil {
		return nil, nil, err
	}
	return env, afterShared, nil
}

// base is what service s's environment starts from: environ, and for a
// service with a user, its login variables.
func base(s *config.Service, environ []string) (*Env, error) {
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
	return env, nil
}

// file is an env file of a layer: its path (none if empty), whether it
// is run with bash rather than parsed, and as whom.
type file struct {
	path string
	exec bool
	user string
}

// load loads f, if there is one: runs it with bash, or parses it.
func (e *Env) load(f file) error {
	switch {
	case f.path != "" && f.exec:
		return e.ExecFile(f.path, f.user)
	case f.path != "":
		return e.LoadFile(f.path)
	}
	return nil
}

// setVars sets vars, expanding each on what is set so far; where names
// them in errors.
func (e *Env) setVars(vars config.Vars, where string) error {
	for _, v := range vars {
		value, err := e.Expand(v.Key, v.Value)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", where, v.Key, err)
		}
		e.Set(v.Key, value)
	}
	return nil
}

// Overrides are the variables that service s's settings beyond the
// shared env file set (the shared env, the service's env_file and env),
// with their resolved values, in order: what a copy of the shared env
// file must carry after its own content so that a start script that
// sources it (DolphinScheduler's start.sh) still sees them.
func Overrides(cfg *config.Config, s *config.Service, environ []string) ([][2]string, error) {
	full, shared, err := resolve(cfg, s, environ)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, k := range full.Keys() {
		v, _ := full.Get(k)
		if was, ok := shared.Get(k); !ok || was != v {
			out = append(out, [2]string{k, v})
		}
	}
	return out, nil
}

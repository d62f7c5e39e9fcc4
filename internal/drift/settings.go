package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/envfile"
)

// Setting is one launch setting as a host shows it to another: the value
// with secrets masked, and a hash of the real value, so that two hosts
// compare values that neither shows.
type Setting struct {
	Value string `json:"value"`
	Hash  string `json:"hash"`
}

// ServiceSettings is what a service is launched with on one host, as flat
// keys ("command", "dir", "user", "limits.nofile", "ready",
// "env.JAVA_HOME", …), and a hash of them all.
type ServiceSettings struct {
	Name     string             `json:"name"`
	Hash     string             `json:"hash"`
	Settings map[string]Setting `json:"settings"`
}

// Settings describes service s of cfg for comparison across hosts. Paths
// under the config's directory are shown relative to it, so that hosts
// with different install paths compare equal. The environment is the
// config's own (env files and env, not the caller's); an env file that
// is run rather than parsed (env_file_exec) is compared by its content.
func Settings(cfg *config.Config, s *config.Service) (ServiceSettings, error) {
	raw := map[string]string{
		"command": relArgv(cfg.Dir, s.Command.Argv),
		"dir":     rel(cfg.Dir, s.Dir),
		"user":    s.User,
		"group":   s.Group,
	}
	if s.Command.Shell {
		raw["command"] = "shell: " + raw["command"]
	}
	if s.Umask != nil {
		raw["umask"] = fmt.Sprintf("%04o", uint32(*s.Umask))
	}
	if l := s.Limits; l != nil {
		for name, v := range map[string]*config.Limit{"nofile": l.NoFile, "nproc": l.NProc, "core": l.Core} {
			if v != nil {
				raw["limits."+name] = limitString(*v)
			}
		}
	}
	if s.Ready != nil {
		raw["ready"] = s.Ready.String()
	}
	env, err := configEnv(cfg, s)
	if err != nil {
		return ServiceSettings{}, err
	}
	for _, k := range env.Keys() {
		raw["env."+k], _ = env.Get(k)
	}
	if cfg.EnvFileExec || s.EnvFileExec {
		h := new(Hasher)
		raw["env_file (run)"] = shortHash(h.read(cfg.EnvFile) + "\x00" + h.read(s.EnvFile))
	}
	return describe(s.Name, raw, envfile.NewMasker(env)), nil
}

// configEnv is the environment the config gives s: Resolve on an empty
// environment, without running an env file.
func configEnv(cfg *config.Config, s *config.Service) (*envfile.Env, error) {
	if cfg.EnvFileExec || s.EnvFileExec {
		plain := *cfg
		plain.EnvFile, plain.EnvFileExec = "", false
		svc := *s
		svc.EnvFile, svc.EnvFileExec = "", false
		return envfile.Resolve(&plain, &svc, nil)
	}
	return envfile.Resolve(cfg, s, nil)
}

func describe(name string, raw map[string]string, mask *envfile.Masker) ServiceSettings {
	out := ServiceSettings{Name: name, Settings: map[string]Setting{}}
	keys := make([]string, 0, len(raw))
	for k, v := range raw {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var all strings.Builder
	for _, k := range keys {
		v := raw[k]
		out.Settings[k] = Setting{Value: mask.Mask(strings.TrimPrefix(k, "env."), v), Hash: shortHash(v)}
		fmt.Fprintf(&all, "%s=%s\x00", k, v)
	}
	out.Hash = shortHash(all.String())
	return out
}

// Diff lists the keys whose values differ between a and b, sorted: set on
// one side only, or set to another value.
func Diff(a, b ServiceSettings) []string {
	var keys []string
	for k, va := range a.Settings {
		if vb, ok := b.Settings[k]; !ok || vb.Hash != va.Hash {
			keys = append(keys, k)
		}
	}
	for k := range b.Settings {
		if _, ok := a.Settings[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// rel shows path relative to dir when it lies under it.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return path
}

func relArgv(dir string, argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if filepath.IsAbs(a) {
			a = rel(dir, a)
		}
		parts[i] = envfile.Quote(a)
	}
	return strings.Join(parts, " ")
}

func limitString(l config.Limit) string {
	if l == config.Unlimited {
		return "unlimited"
	}
	return fmt.Sprint(uint64(l))
}

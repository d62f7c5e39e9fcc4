// Package drift tells whether a running service was launched from the
// config as it stands now: a fingerprint of everything in the config that
// shapes a launch (command, dir, environment with its env files' content,
// user, group, limits, umask, readiness probe), recorded at each launch
// and compared by status and update.
package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/daemonctl/daemonctl/internal/config"
)

// maxEnvFile bounds what is read of an env file; envfile refuses larger
// ones anyway.
const maxEnvFile = 4 << 20

// Hasher computes fingerprints, reading each env file once however many
// services share it.
type Hasher struct {
	files map[string]string
}

// launchSpec is what a fingerprint covers. The caller's environment is
// not part of it: the same config started from two shells is the same.
type launchSpec struct {
	Command     []string
	Shell       bool
	Dir         string
	SharedEnv   config.Vars
	SharedFile  string // the shared env file's content
	Env         config.Vars
	EnvFile     string // the service's env file's content
	User, Group string
	Limits      *config.Limits
	Umask       *config.Umask
	Ready       *config.Ready
}

// Fingerprint identifies what service s of cfg would be launched with now.
func (h *Hasher) Fingerprint(cfg *config.Config, s *config.Service) string {
	spec := launchSpec{
		Command: s.Command.Argv, Shell: s.Command.Shell, Dir: s.Dir,
		SharedEnv: cfg.Env, SharedFile: h.read(cfg.EnvFile),
		Env: s.Env, EnvFile: h.read(s.EnvFile),
		User: s.User, Group: s.Group, Limits: s.Limits, Umask: s.Umask, Ready: s.Ready,
	}
	sum := sha256.Sum256(appendSpec(make([]byte, 0, 512), &spec))
	return hex.EncodeToString(sum[:12])
}

// Fingerprint is Hasher.Fingerprint for one service.
func Fingerprint(cfg *config.Config, s *config.Service) string {
	return new(Hasher).Fingerprint(cfg, s)
}

// read returns the content of env file path, or a marker saying it is
// missing or unreadable, which is a change too.
func (h *Hasher) read(path string) string {
	if path == "" {
		return ""
	}
	if c, ok := h.files[path]; ok {
		return c
	}
	content := "\x00unreadable"
	if f, err := os.Open(path); errors.Is(err, fs.ErrNotExist) {
		content = "\x00missing"
	} else if err == nil {
		if b, err := io.ReadAll(io.LimitReader(f, maxEnvFile)); err == nil {
			content = string(b)
		}
		f.Close()
	}
	if h.files == nil {
		h.files = map[string]string{}
	}
	h.files[path] = content
	return content
}

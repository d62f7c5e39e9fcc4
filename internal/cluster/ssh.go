package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/envfile"
)

// sshArgv is the ssh command line that runs daemonctl with args on h:
// BatchMode, so that a missing key fails instead of prompting; the
// config's connect timeout and options; one connection per host shared
// by every step (ControlMaster), unless control_persist is 0; and a
// remote command that finds daemonctl in install_path (or its bin/)
// before the remote PATH. Users' ~/.ssh/config, agents and jump hosts
// apply as to any ssh.
func (r *Runner) sshArgv(h *config.Host, args []string) []string {
	argv := []string{
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=" + strconv.Itoa(max(int(r.Config.SSH.ConnectTimeout.Std()/time.Second), 1)),
	}
	argv = append(argv, r.multiplexing(h)...)
	argv = append(argv, r.Config.SSH.Options...)
	if h.Port != 0 {
		argv = append(argv, "-p", strconv.Itoa(h.Port))
	}
	if h.User != "" {
		argv = append(argv, "-l", h.User)
	}
	// Options end before the destination: an address is never an option.
	return append(argv, "--", h.Address, remoteCommand(h, args))
}

// multiplexing is the ssh options that share one connection per host:
// the first ssh to a host becomes its master, listening on a socket in
// the control directory, and later ones (this command's next steps, the
// next command within control_persist) run over it. With no usable
// control directory each ssh connects on its own, as before.
func (r *Runner) multiplexing(h *config.Host) []string {
	persist := r.Config.SSH.ControlPersist
	if persist == nil || *persist == 0 {
		return nil
	}
	r.controlOnce.Do(func() { r.controlDir, r.controlErr = controlDir(r.Config.RunDir) })
	if r.controlErr != nil {
		return nil
	}
	return []string{
		"-o", "ControlMaster=auto",
		"-o", "ControlPath=" + filepath.Join(r.controlDir, r.socketName(h)),
		"-o", "ControlPersist=" + strconv.Itoa(max(int(persist.Std()/time.Second), 1)),
	}
}

// socketName names h's control socket: a short hash (ssh's own %C is 40
// characters, too many for a run_dir deep in a tree) of what makes one
// connection differ from another, as this config asks for it.
func (r *Runner) socketName(h *config.Host) string {
	sum := sha256.Sum256([]byte(strings.Join(append([]string{h.Address, strconv.Itoa(h.Port), h.User}, r.Config.SSH.Options...), "\x00")))
	return hex.EncodeToString(sum[:6])
}

// socketPathMax is what fits in a unix socket's sun_path (108 bytes on
// Linux, with its NUL), less the ".XXXXXXXXXXXXXXXX" ssh appends while
// it binds the socket.
const socketPathMax = 107 - 17

// controlDir returns the directory for the ssh control sockets: run_dir's
// ssh/, or, when that path is too long for a socket, a directory of this
// user's own under the temp dir. It is created 0700, and refused unless
// it is a real directory of ours that no one else can write.
func controlDir(runDir string) (string, error) {
	dir := filepath.Join(runDir, "ssh")
	if len(dir)+1+12 > socketPathMax {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("daemonctl-ssh-%d", os.Geteuid()))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return "", fmt.Errorf("%s is not a directory", dir)
	case !ok || int(st.Uid) != os.Geteuid():
		return "", fmt.Errorf("%s is not ours", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return "", errors.New(dir + " can be written by others")
	}
	return dir, nil
}

// remoteCommand is the shell command run on h: ssh hands the remote
// user's shell one string, so every word is quoted.
func remoteCommand(h *config.Host, args []string) string {
	binary, cfg := h.Binary, h.Config
	if binary == "" {
		binary = "daemonctl"
	}
	if cfg == "" {
		cfg = "daemonctl.yaml"
	}
	var b strings.Builder
	if h.InstallPath != "" {
		fmt.Fprintf(&b, "cd %s && PATH=%s/bin:%s:$PATH ", envfile.Quote(h.InstallPath), envfile.Quote(h.InstallPath), envfile.Quote(h.InstallPath))
	}
	b.WriteString("exec " + envfile.Quote(binary) + " --config " + envfile.Quote(cfg))
	for _, a := range args {
		b.WriteString(" " + envfile.Quote(a))
	}
	return b.String()
}

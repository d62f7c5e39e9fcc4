package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Spec says how to launch a process.
type Spec struct {
	Argv []string
	Dir  string
	Env  []string // KEY=VALUE; PATH here is used to find Argv[0]
	// Output receives both stdout and stderr. Stdin is /dev/null.
	Output *os.File
}

// Child is a process this one launched and is the parent of.
type Child struct {
	ID   Identity
	cmd  *exec.Cmd
	done chan struct{}
	exit ExitStatus
}

// Spawn launches spec's command in a new session (so it has no controlling
// terminal and is the leader of its own process group) and returns once
// it runs.
func Spawn(spec Spec) (*Child, error) {
	path, err := LookPath(spec.Argv[0], spec.Dir, envValue(spec.Env, "PATH"))
	if err != nil {
		return nil, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Argv,
		Dir:         spec.Dir,
		Env:         spec.Env,
		Stdin:       devnull,
		Stdout:      spec.Output,
		Stderr:      spec.Output,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch %s: %w", spec.Argv[0], err)
	}
	c := &Child{cmd: cmd, done: make(chan struct{})}
	// The child cannot be reaped before we Wait, so its stat is readable
	// even if it has already exited.
	info, err := Inspect(cmd.Process.Pid)
	if err != nil {
		return nil, fmt.Errorf("launch %s: read its identity: %w", spec.Argv[0], err)
	}
	c.ID = info.Identity
	go func() {
		err := cmd.Wait()
		c.exit = exitStatus(cmd.ProcessState, err)
		close(c.done)
	}()
	return c, nil
}

// Done is closed when the child has exited; Exit is valid after that.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exit is how the child ended. Only valid after Done is closed.
func (c *Child) Exit() ExitStatus { return c.exit }

// LookPath finds an executable as a shell would with cwd dir and PATH
// pathEnv: names with a slash are taken relative to dir.
func LookPath(name, dir, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("command %s: %w", p, err)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %s", name, pathEnv)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return errors.New("not executable")
	}
	return nil
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

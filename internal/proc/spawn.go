package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	// Stdout and Stderr receive the process's output; stdin is /dev/null.
	Stdout, Stderr *os.File
	// ExtraFiles become fds 3, 4, ... in the process.
	ExtraFiles []*os.File
}

// Spawn launches spec's command in a new session (so it has no controlling
// terminal and leads its own process group) and returns its identity. The
// caller is its parent and must reap it (wait4).
func Spawn(spec Spec) (Identity, error) {
	path, err := spec.Path()
	if err != nil {
		return Identity{}, err
	}
	return spawnPath(path, spec)
}

// Path finds spec's program as a shell would, with spec's PATH and
// working directory.
func (spec Spec) Path() (string, error) {
	return LookPath(spec.Argv[0], spec.Dir, envValue(spec.Env, "PATH"))
}

func spawnPath(path string, spec Spec) (Identity, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return Identity{}, err
	}
	defer devnull.Close()
	files := []uintptr{fdOf(devnull), fdOf(spec.Stdout), fdOf(spec.Stderr)}
	for _, f := range spec.ExtraFiles {
		files = append(files, fdOf(f))
	}
	pid, err := syscall.ForkExec(path, spec.Argv, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return Identity{}, fmt.Errorf("launch %s: %w", spec.Argv[0], err)
	}
	// Our child cannot be reaped before we wait for it, so its stat is
	// readable even if it has already exited.
	info, err := Inspect(pid)
	if err != nil {
		return Identity{}, fmt.Errorf("launch %s: read its identity: %w", spec.Argv[0], err)
	}
	return info.Identity, nil
}

// WaitStatus converts a wait4(2) status to an ExitStatus.
func WaitStatus(ws unix.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return FromSignal(ws.Signal())
	}
	return ExitStatus{Code: ws.ExitStatus()}
}

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

// SpawnDetached is Spawn for a program run by its path (not looked up),
// with spec.Argv[0] as the name it sees: daemonctl runs itself this way.
// Nobody reaps it here; it is left to whoever inherits it.
func SpawnDetached(spec Spec, path string) (Identity, error) {
	return spawnPath(path, spec)
}

// ReapLater reaps the caller's child id once it exits, without holding a
// thread meanwhile: a long-lived program that spawns detached children
// (a supervisor exits when idle) must not collect their zombies. Only for
// a child nobody else waits for.
func ReapLater(id Identity) {
	h, err := Open(id)
	go func() {
		if err == nil {
			h.wait(context.Background())
			h.Close()
		}
		unix.Wait4(id.PID, nil, 0, nil)
	}()
}

// fdOf returns f's descriptor without os.File.Fd's side effect of
// switching it to blocking mode: a pipe the caller goes on reading must
// stay with the runtime's poller, or every read holds an OS thread.
func fdOf(f *os.File) uintptr {
	raw, err := f.SyscallConn()
	if err != nil {
		return f.Fd()
	}
	var fd uintptr
	raw.Control(func(d uintptr) { fd = d })
	return fd
}

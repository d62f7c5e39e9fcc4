package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/pidfile"
)

// endpoint is the supervisor's hold on run_dir: its lock and its socket.
// Their paths are only names: run_dir may be emptied (rm -rf, a tmpfiles
// clean-up) or have another filesystem mounted over it while the
// supervisor runs, and a supervisor that comes after takes the same
// names. So the endpoint remembers which files it holds, takes them
// again when they are gone, and at exit unlinks the socket only while it
// is still its own: an exiting supervisor never takes the socket of the
// one that came after it. Its methods are called by the supervisor's
// main goroutine alone.
type endpoint struct {
	runDir, name string
	serve        func(*net.UnixListener) // accepts on a listener until it closes
	lock         *pidfile.Lock           // LockFile; nil in the foreground
	ln           *net.UnixListener
	id           fileID
}

// LockFile is the run_dir lock its one background supervisor holds.
const LockFile = "supervisor.lock"

// fileID tells one file from another on the whole machine.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}

// openEndpoint takes run_dir's lock, unless locked is false, then binds
// socket name and starts serving it. It returns nil, nil when another
// supervisor holds the lock.
func openEndpoint(runDir, name string, locked bool, serve func(*net.UnixListener)) (*endpoint, error) {
	e := &endpoint{runDir: runDir, name: name, serve: serve}
	if locked {
		lock, err := pidfile.TryLock(e.lockPath())
		if err != nil || lock == nil {
			return nil, err
		}
		e.lock = lock
	}
	if err := e.bind(); err != nil {
		e.lock.Release()
		return nil, fmt.Errorf("supervisor socket: %w", err)
	}
	return e, nil
}

func (e *endpoint) path() string     { return filepath.Join(e.runDir, e.name) }
func (e *endpoint) lockPath() string { return filepath.Join(e.runDir, LockFile) }

// bind makes a new socket and serves it, closing the one before.
func (e *endpoint) bind() error {
	ln, err := listen(e.runDir, e.name)
	if err != nil {
		return err
	}
	if e.ln != nil {
		e.ln.Close()
	}
	e.ln = ln
	e.id, _ = statID(e.path())
	go e.serve(ln)
	return nil
}

// ours reports whether the socket's name still leads to the file bound.
func (e *endpoint) ours() bool {
	id, ok := statID(e.path())
	return ok && id == e.id
}

// Repair binds the socket again if its file was removed or replaced, so
// that commands keep reaching this supervisor: a new one would find
// run_dir's lock held and leave, and the command would wait for it in
// vain. If the lock file went too (run_dir replaced), the lock is taken
// again first; when another supervisor has it already, run_dir is that
// one's and nothing is done. Repair reports whether it bound again.
func (e *endpoint) Repair() (bool, error) {
	if e.ours() {
		return false, nil
	}
	if e.lock != nil && !e.lock.Still(e.lockPath()) {
		lock, err := pidfile.TryLock(e.lockPath())
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // no run_dir: the next command makes it
		}
		if err != nil || lock == nil {
			return false, err
		}
		e.lock.Release()
		e.lock = lock
	}
	return true, e.bind()
}

// Close stops serving, unlinks the socket if it is still ours and lets
// go of run_dir.
func (e *endpoint) Close() {
	mine := e.ours()
	e.ln.Close()
	if mine {
		os.Remove(e.path())
	}
	e.lock.Release()
}

package pidfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/backoff"
)

// A Lock is an exclusive flock(2) on a file. The kernel drops it when the
// holder exits, however it exits, so a crashed command never leaves a
// service locked.
type Lock struct{ f *os.File }

// Locks are mostly held for a few milliseconds (a stop's last steps, a
// state write), so the first tries come every millisecond; a longer wait
// backs off to 20ms.
var lockRetry = backoff.Policy{Initial: time.Millisecond, Max: 20 * time.Millisecond, Steady: 10}

// Acquire takes the lock at path, creating the file, waiting until ctx
// ends.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	f, err := openLockFile(path, os.O_RDONLY|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	err = backoff.Until(ctx, lockRetry, func() (bool, error) { return tryFlock(f) })
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// TryLock takes the lock at path if nobody holds it, creating the file;
// it returns nil, nil when somebody does.
func TryLock(path string) (*Lock, error) {
	f, err := openLockFile(path, os.O_RDONLY|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	ok, err := tryFlock(f)
	if !ok {
		f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Held reports whether somebody holds the lock at path right now. A lock
// file that does not exist is not held.
func Held(path string) bool {
	f, err := openLockFile(path, os.O_RDONLY)
	if err != nil {
		return false
	}
	defer f.Close()
	ok, _ := tryFlock(f)
	return !ok
}

// openLockFile opens a lock file; read-only is enough for flock(2), and a
// holder with nothing open for writing does not keep its filesystem from
// being remounted read-only.
func openLockFile(path string, flags int) (*os.File, error) {
	f, err := os.OpenFile(path, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("lock %s is a symbolic link: refused", path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}

// tryFlock takes f's lock without waiting: false, nil when another holds it.
func tryFlock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EWOULDBLOCK), errors.Is(err, unix.EINTR):
		return false, nil
	}
	return false, fmt.Errorf("lock %s: %w", f.Name(), err)
}

// Release drops the lock.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// Still reports whether path still names the file l locks: false once
// the file was removed, or its directory replaced or mounted over, since
// the lock was taken. A lock that no longer guards its name keeps no one
// else out.
func (l *Lock) Still(path string) bool {
	if l == nil || l.f == nil {
		return false
	}
	var held, named unix.Stat_t
	if unix.Fstat(int(l.f.Fd()), &held) != nil || unix.Lstat(path, &named) != nil {
		return false
	}
	return held.Dev == named.Dev && held.Ino == named.Ino
}

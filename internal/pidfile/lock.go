package pidfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A Lock is an exclusive flock(2) on a file. The kernel drops it when the
// holder exits, however it exits, so a crashed command never leaves a
// service locked.
type Lock struct{ f *os.File }

// Acquire takes the lock at path, waiting until ctx ends.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("lock %s is a symbolic link: refused", path)
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	// Locks are mostly held for a few milliseconds (a stop's last steps,
	// a state write), so the first tries come every millisecond; a
	// longer wait backs off to 20ms.
	wait := time.Millisecond
	for try := 1; ; try++ {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(wait):
		}
		if try >= 10 {
			wait = min(wait*2, 20*time.Millisecond)
		}
	}
}

// Release drops the lock.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

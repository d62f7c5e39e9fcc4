package proc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A Handle is an open reference to one process, verified against its
// Identity when it was opened. Signals sent through a Handle reach that
// process or nobody: with a pidfd (pidfd_open(2), Linux 5.3) the kernel
// guarantees it even if the pid is reused meanwhile.
type Handle struct {
	ID Identity
	fd int // -1 when pidfds are unavailable
}

var (
	pidfdOnce sync.Once
	pidfdOK   bool
)

// havePidfd probes once whether pidfd_open works here (seccomp filters and
// kernels before 5.3 refuse it).
func havePidfd() bool {
	pidfdOnce.Do(func() {
		fd, err := unix.PidfdOpen(unix.Getpid(), 0)
		if err == nil {
			unix.Close(fd)
			pidfdOK = true
		}
	})
	return pidfdOK
}

// Open returns a Handle on the process named by id, or ErrGone if that
// process no longer runs (exited, zombie, or its pid now names another).
func Open(id Identity) (*Handle, error) {
	fd := -1
	if havePidfd() {
		var err error
		fd, err = unix.PidfdOpen(id.PID, 0)
		if errors.Is(err, unix.ESRCH) {
			return nil, ErrGone
		}
		if err != nil {
			return nil, fmt.Errorf("pidfd_open %d: %w", id.PID, err)
		}
	}
	// Checked after opening: from here on the pidfd pins the process, so
	// the identity cannot change under us.
	if !id.Alive() {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, ErrGone
	}
	return &Handle{ID: id, fd: fd}, nil
}

// Close releases the handle.
func (h *Handle) Close() {
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// Signal sends sig to the process. A process that is already gone is not
// an error.
func (h *Handle) Signal(sig unix.Signal) error {
	var err error
	if h.fd >= 0 {
		err = unix.PidfdSendSignal(h.fd, sig, nil, 0)
	} else if h.ID.Alive() {
		err = unix.Kill(h.ID.PID, sig)
	}
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// Exited reports, without blocking, whether the process has exited.
func (h *Handle) Exited() bool {
	if h.fd < 0 {
		return !h.ID.Alive()
	}
	fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// WaitAll blocks until every process has exited or ctx is done; it returns
// ctx's error in the latter case. With pidfds it wakes the moment the last
// process exits; without them it polls /proc every few milliseconds.
func WaitAll(ctx context.Context, hs []*Handle) error {
	pending := make([]*Handle, 0, len(hs))
	for _, h := range hs {
		if !h.Exited() {
			pending = append(pending, h)
		}
	}
	backoff := time.Millisecond
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		wait := 50 * time.Millisecond
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = max(time.Until(dl), 0)
		}
		if pending[0].fd >= 0 {
			pollExits(pending, wait)
		} else {
			time.Sleep(min(backoff, wait))
			backoff = min(backoff*2, 20*time.Millisecond)
		}
		still := pending[:0]
		for _, h := range pending {
			if !h.Exited() {
				still = append(still, h)
			}
		}
		pending = still
	}
	return nil
}

// pollExits waits up to d for any of the pidfds to become readable, which
// the kernel does when the process exits.
func pollExits(hs []*Handle, d time.Duration) {
	fds := make([]unix.PollFd, len(hs))
	for i, h := range hs {
		fds[i] = unix.PollFd{Fd: int32(h.fd), Events: unix.POLLIN}
	}
	ms := int(d / time.Millisecond)
	if d > 0 && ms == 0 {
		ms = 1
	}
	_, err := unix.Poll(fds, ms)
	if errors.Is(err, unix.EINTR) {
		return
	}
}

// WatchExit returns a channel that is closed when the process named by id
// exits, at once if it is already gone. Watching ends when ctx does; the
// channel then stays open.
func WatchExit(ctx context.Context, id Identity) <-chan struct{} {
	exited := make(chan struct{})
	go func() {
		h, err := Open(id)
		if err != nil {
			close(exited)
			return
		}
		defer h.Close()
		if WaitAll(ctx, []*Handle{h}) == nil {
			close(exited)
		}
	}()
	return exited
}

package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/backoff"
)

// A Handle is an open reference to one process, verified against its
// Identity when it was opened. Signals sent through a Handle reach that
// process or nobody: with a pidfd (pidfd_open(2), Linux 5.3) the kernel
// guarantees it even if the pid is reused meanwhile.
type Handle struct {
	ID Identity
	f  *os.File // the pidfd, with the runtime's poller when non-blocking; nil without pidfds
}

var (
	pidfdOnce  sync.Once
	pidfdFlags = -1 // -1: no pidfds; else flags for pidfd_open
)

// pidfdSupport probes once whether pidfd_open works here (seccomp filters
// and kernels before 5.3 refuse it) and whether it takes PIDFD_NONBLOCK
// (5.10), which lets a wait park on the runtime's poller instead of
// holding an OS thread.
func pidfdSupport() int {
	pidfdOnce.Do(func() {
		for _, flags := range []int{unix.PIDFD_NONBLOCK, 0} {
			if fd, err := unix.PidfdOpen(unix.Getpid(), flags); err == nil {
				unix.Close(fd)
				pidfdFlags = flags
				return
			}
		}
	})
	return pidfdFlags
}

// Open returns a Handle on the process named by id, or ErrGone if that
// process no longer runs (exited, zombie, or its pid now names another).
func Open(id Identity) (*Handle, error) {
	h := &Handle{ID: id}
	if flags := pidfdSupport(); flags >= 0 {
		fd, err := unix.PidfdOpen(id.PID, flags)
		if errors.Is(err, unix.ESRCH) {
			return nil, ErrGone
		}
		if err != nil {
			return nil, fmt.Errorf("pidfd_open %d: %w", id.PID, err)
		}
		h.f = os.NewFile(uintptr(fd), "pidfd")
	}
	// Checked after opening: from here on the pidfd pins the process, so
	// the identity cannot change under us.
	if !id.Alive() {
		h.Close()
		return nil, ErrGone
	}
	return h, nil
}

// Close releases the handle.
func (h *Handle) Close() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

func (h *Handle) control(fn func(fd int)) bool {
	raw, err := h.f.SyscallConn()
	if err != nil {
		return false
	}
	return raw.Control(func(fd uintptr) { fn(int(fd)) }) == nil
}

// Signal sends sig to the process. A process that is already gone is not
// an error.
func (h *Handle) Signal(sig unix.Signal) error {
	var err error
	if h.f == nil {
		if h.ID.Alive() {
			err = unix.Kill(h.ID.PID, sig)
		}
	} else if !h.control(func(fd int) { err = unix.PidfdSendSignal(fd, sig, nil, 0) }) {
		return nil // closed: nothing to signal
	}
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// Exited reports, without blocking, whether the process has exited.
func (h *Handle) Exited() bool {
	if h.f == nil {
		return !h.ID.Alive()
	}
	exited := false
	h.control(func(fd int) { exited = pidfdReadable(fd) })
	return exited
}

// pidfdReadable polls a pidfd without waiting: it is readable once the
// process has exited.
func pidfdReadable(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// wait blocks until the process exits or ctx ends.
func (h *Handle) wait(ctx context.Context) error {
	if h.f == nil || pidfdSupport() != unix.PIDFD_NONBLOCK {
		return h.pollWait(ctx)
	}
	err := h.pollPidfd(ctx, pidfdReadable)
	if err != nil && ctx.Err() == nil {
		return h.pollWait(ctx)
	}
	return err
}

// pollPidfd calls ready each time the runtime's poller sees the pidfd
// ready, until it returns true or ctx ends; no thread waits meanwhile.
// It returns ctx's error when ctx ended it.
func (h *Handle) pollPidfd(ctx context.Context, ready func(fd int) bool) error {
	raw, err := h.f.SyscallConn()
	if err != nil {
		return err
	}
	// The deadline is set on f, not h.f: once ctx ends the func runs on
	// its own goroutine, maybe after the caller has closed h.
	f := h.f
	f.SetReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	err = raw.Read(func(fd uintptr) bool { return ready(int(fd)) })
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// pollWait is the fallback without a pollable pidfd: look every few
// milliseconds.
func (h *Handle) pollWait(ctx context.Context) error {
	return backoff.Until(ctx, backoff.Policy{Initial: time.Millisecond, Max: 20 * time.Millisecond}, func() (bool, error) {
		return h.Exited(), nil
	})
}

// WaitAll blocks until every process has exited or ctx is done; it returns
// ctx's error in the latter case. With pidfds it wakes the moment the last
// process exits.
func WaitAll(ctx context.Context, hs []*Handle) error {
	for _, h := range hs {
		if err := h.wait(ctx); err != nil {
			return err
		}
	}
	return nil
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
		if h.wait(ctx) == nil {
			close(exited)
		}
	}()
	return exited
}

// WaitGone waits until the process that now has pid exits (at once if
// none does), or ctx ends.
func WaitGone(ctx context.Context, pid int) error {
	info, err := Inspect(pid)
	if err != nil || info.Zombie {
		return nil
	}
	select {
	case <-WatchExit(ctx, info.Identity):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package proc

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrNoExitInfo is returned by WaitReaped where the kernel tells a
// process's exit to its parent alone: before Linux 6.15, or without
// pollable pidfds.
var ErrNoExitInfo = errors.New("the kernel tells a process's exit to its parent only (PIDFD_INFO_EXIT is Linux 6.15's)")

// WaitReaped waits until the process has been reaped by its parent and
// returns how it ended, which the kernel keeps for whoever holds a pidfd
// on it (PIDFD_INFO_EXIT): a stop learns the exit of a server another
// process started and reaps without asking that process. It returns
// ErrNoExitInfo where the kernel cannot tell, and ctx's error if the
// process is not reaped before ctx ends (a parent that does not wait).
func (h *Handle) WaitReaped(ctx context.Context) (ExitStatus, error) {
	if !exitInfoSupported() || h.f == nil || pidfdSupport() != unix.PIDFD_NONBLOCK {
		return ExitStatus{}, ErrNoExitInfo
	}
	// The pidfd is readable from the exit on; the reap wakes the poller
	// again, with POLLHUP.
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
	var infoErr error
	err := h.pollPidfd(ctx, func(fd int) bool {
		if !pidfdReaped(fd) {
			return false
		}
		infoErr = unix.IoctlPidfdInfo(fd, &info)
		return true
	})
	switch {
	case err != nil:
		return ExitStatus{}, err
	case infoErr != nil || info.Mask&unix.PIDFD_INFO_EXIT == 0:
		return ExitStatus{}, ErrNoExitInfo
	}
	return WaitStatus(unix.WaitStatus(info.Exit_code)), nil
}

// pidfdReaped polls a pidfd without waiting: it hangs up once the
// process has been reaped.
func pidfdReaped(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd)}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLHUP != 0
}

// exitInfoSupported reports whether this kernel keeps a process's exit
// for its pidfds, and wakes their pollers when the process is reaped:
// Linux 6.15 on. The version is the test because nothing else tells
// without a process to have reaped, and an older kernel would leave a
// waiter to its deadline.
var exitInfoSupported = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 6, 15)
})

// kernelAtLeast reports whether release (uname -r: "6.18.44-fc",
// "6.15-rc1") is major.minor or later.
func kernelAtLeast(release string, major, minor int) bool {
	gotMajor, rest, ok1 := leadingInt(release)
	rest, dot := strings.CutPrefix(rest, ".")
	gotMinor, _, ok2 := leadingInt(rest)
	if !ok1 || !dot || !ok2 {
		return false
	}
	return gotMajor > major || gotMajor == major && gotMinor >= minor
}

// leadingInt parses the digits s begins with, and returns the rest.
func leadingInt(s string) (int, string, bool) {
	end := 0
	for end < len(s) && '0' <= s[end] && s[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	return n, s[end:], err == nil
}

// Package pidstop is the bare stop the benchmarks measure daemonctl
// against: SIGTERM through a pidfd, and a wait on it until the process
// has exited. It imports nothing but x/sys/unix, so that the floor
// program built on it (floorbench's stopper) stays the least a Go stop
// can be.
package pidstop

import "golang.org/x/sys/unix"

// TermAndWait sends SIGTERM to process pid and returns once it has
// exited.
func TermAndWait(pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil {
		return err
	}
	for {
		// The runtime's preemption signal (SIGURG) interrupts the wait.
		if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1); err != unix.EINTR {
			return err
		}
	}
}

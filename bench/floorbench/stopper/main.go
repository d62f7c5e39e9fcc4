// Command stopper is the floor of a stop: a static Go program that sends
// SIGTERM to the process its argument names and returns the moment that
// process has exited, as a pidfd tells, the least a stop command costs
// to run here.
package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	pid, err := strconv.Atoi(os.Args[1])
	if err != nil {
		os.Exit(2)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		os.Exit(1)
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil {
		os.Exit(1)
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

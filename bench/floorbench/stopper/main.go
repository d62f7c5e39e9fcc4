// Command stopper is the floor of a stop: a static Go program that sends
// SIGTERM to the process its argument names and returns the moment that
// process has exited, as a pidfd tells, the least a stop command costs
// to run here.
package main

import (
	"os"
	"strconv"

	"github.com/daemonctl/daemonctl/bench/internal/pidstop"
)

func main() {
	pid, err := strconv.Atoi(os.Args[1])
	if err != nil {
		os.Exit(2)
	}
	if pidstop.TermAndWait(pid) != nil {
		os.Exit(1)
	}
}

package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExitStatus is how a process ended: an exit code, or the signal that
// killed it.
type ExitStatus struct {
	Code   int    `json:"code"`             // exit code, or 128+signal as a shell reports it
	Signal string `json:"signal,omitempty"` // e.g. "KILL" when a signal ended it
}

func (e ExitStatus) String() string {
	if e.Signal != "" {
		return fmt.Sprintf("killed by signal %s", e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func exitStatus(ps *os.ProcessState, err error) ExitStatus {
	var ee *exec.ExitError
	if ps == nil && errors.As(err, &ee) {
		ps = ee.ProcessState
	}
	if ps == nil {
		return ExitStatus{Code: -1}
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return FromSignal(unix.Signal(ws.Signal()))
	}
	return ExitStatus{Code: ps.ExitCode()}
}

// FromSignal is the status of a process killed by sig: 128+sig, as shells
// and container runtimes report it.
func FromSignal(sig unix.Signal) ExitStatus {
	return ExitStatus{Code: 128 + int(sig), Signal: strings.TrimPrefix(unix.SignalName(sig), "SIG")}
}

package proc

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// ExitStatus is how a process ended: an exit code, or the signal that
// killed it.
type ExitStatus struct {
	Code   int    `json:"code"`             // exit code, or 128+signal as a shell reports it; -1 unknown
	Signal string `json:"signal,omitempty"` // e.g. "KILL" when a signal ended it
}

func (e ExitStatus) String() string {
	if e.Code < 0 {
		return "exit status unknown"
	}
	if e.Signal != "" {
		return fmt.Sprintf("killed by signal %s", e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// FromSignal is the status of a process killed by sig: 128+sig, as shells
// and container runtimes report it.
func FromSignal(sig unix.Signal) ExitStatus {
	return ExitStatus{Code: 128 + int(sig), Signal: strings.TrimPrefix(unix.SignalName(sig), "SIG")}
}

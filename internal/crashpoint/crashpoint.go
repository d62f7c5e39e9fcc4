// Package crashpoint lets the fault tests kill daemonctl between two
// steps of a command, the way a power cut or an OOM kill would: with
// DAEMONCTL_CRASH_AT=NAME in its environment, a daemonctl process that
// reaches the point NAME sends itself SIGKILL. Without it, Here does
// nothing.
package crashpoint

import (
	"os"
	"syscall"
)

// EnvVar names the point to crash at.
const EnvVar = "DAEMONCTL_CRASH_AT"

var at = os.Getenv(EnvVar)

// Here kills this process if it was told to crash at name.
func Here(name string) {
	if at != "" && at == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not instant; go no further
	}
}

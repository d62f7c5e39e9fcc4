// Package crashpoint lets the fault tests kill daemonctl between two
// steps of a command, the way a power cut or an OOM kill would: with
// DAEMONCTL_CRASH_AT=NAME in its environment, a daemonctl process that
// reaches the point NAME sends itself SIGKILL. Without it, Here does
// nothing.
package crashpoint

import (
	"os"
	"sync"
	"syscall"
)

// EnvVar names the point to crash at.
const EnvVar = "DAEMONCTL_CRASH_AT"

// at is the point named by EnvVar, read on first use: os.Getenv copies
// the whole environment into a map the first time, which a command that
// passes no point need not pay for at start-up.
var at = sync.OnceValue(func() string { return os.Getenv(EnvVar) })

// Here kills this process if it was told to crash at name.
func Here(name string) {
	if at := at(); at != "" && at == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not instant; go no further
	}
}

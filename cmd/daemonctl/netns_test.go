package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/daemonctl/daemonctl/internal/sshlab"
)

// hosts N: create hosts h1..hN (internal/sshlab: a network namespace and
// an sshd each); set HOST1..HOSTN to their addresses and SSH_OPTIONS to
// what ssh needs to reach them, as YAML flow items. Each host's directory
// $WORK/hN plays its install_path, with daemonctl and testserver in its
// bin/. Needs root (CI runs as root), iproute2 and sshd.
func cmdHosts(ts *testscript.TestScript, neg bool, args []string) {
	var n int
	if _, err := fmt.Sscan(strings.Join(args, " "), &n); neg || err != nil || len(args) != 1 {
		ts.Fatalf("usage: hosts N")
	}
	work := ts.Getenv("WORK")
	lab, err := sshlab.New(filepath.Join(work, "ssh"), "dc"+ts.Getenv(tagVar)[:6])
	ts.Check(err)
	// Every session, and so every daemonctl and server it starts, carries
	// the scenario's tag for the clean-up, and no one-second sleep at exit
	// for a race-enabled binary.
	lab.SessionEnv = []string{tagVar + "=" + ts.Getenv(tagVar), "GORACE=atexit_sleep_ms=0"}
	ts.Defer(lab.Close)
	ts.Defer(func() { sshlab.EndConnections(work) })
	self, err := os.Executable()
	ts.Check(err)
	for i := 1; i <= n; i++ {
		h, err := lab.AddHost(fmt.Sprintf("h%d", i))
		ts.Check(err)
		bin := filepath.Join(work, h.Name, "bin")
		ts.Check(os.MkdirAll(bin, 0o755))
		for _, name := range []string{"daemonctl", "testserver"} {
			ts.Check(os.Symlink(self, filepath.Join(bin, name)))
		}
		ts.Setenv(fmt.Sprintf("HOST%d", i), h.Address)
	}
	var opts []string
	for _, o := range lab.SSHOptions() {
		opts = append(opts, fmt.Sprintf("%q", o))
	}
	ts.Setenv("SSH_OPTIONS", strings.Join(opts, ", "))
}

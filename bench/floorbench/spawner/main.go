// Command spawner is the floor of `daemonctl start` without probes: it
// starts N copies of a command, each in a session of its own with its
// output to /dev/null, writes each pid to DIR/N.pid, and exits without
// waiting for them.
//
//	spawner DIR N COMMAND [ARG...]
package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

func main() {
	dir := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	for i := range n {
		cmd := exec.Command(os.Args[3], os.Args[4:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		os.WriteFile(filepath.Join(dir, strconv.Itoa(i)+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	}
}

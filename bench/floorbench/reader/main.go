// Command reader is the floor of `daemonctl status` over a run_dir: for
// each service named on the command line it reads RUN_DIR/NAME.state,
// RUN_DIR/NAME.pid and /proc/PID/stat, and prints a line, nothing more:
// no config, no identity checks, no supervisor.
//
//	reader RUN_DIR NAME...
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	dir := os.Args[1]
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, name := range os.Args[2:] {
		record, _ := os.ReadFile(filepath.Join(dir, name+".state"))
		pidText, _ := os.ReadFile(filepath.Join(dir, name+".pid"))
		pid, _ := strconv.Atoi(string(bytes.TrimSpace(pidText)))
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		state := "STOPPED"
		if err == nil && len(record) > 0 {
			state = "RUNNING"
		}
		_ = stat
		fmt.Fprintf(out, "%s\t%s\t%d\n", name, state, pid)
	}
}

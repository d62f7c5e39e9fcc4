// Command stopbench measures how long stopping a server takes with
// daemonctl and with the tools it replaces, in one run on one machine, and
// prints a table of minimum, median and maximum with the ratio of each
// tool to daemonctl. The server is `sleep`, which exits the moment it gets
// SIGTERM, so every millisecond above the bare kill is the tool's own.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type tool struct {
	name  string
	runs  int
	start func(dir string) error
	stop  func(dir string) error
}

func main() {
	daemonctl := flag.String("daemonctl", "bin/daemonctl", "daemonctl binary")
	runs := flag.Int("runs", 30, "runs per fast tool")
	slowRuns := flag.Int("slow-runs", 3, "runs of tools that sleep a fixed 5 s")
	asReaper := flag.Bool("reaper", true, "run the measurements under a subreaper that reaps orphans at once, as a real init does")
	flag.Parse()
	if *asReaper {
		os.Exit(reapWhileRunning(append(os.Args[1:], "-reaper=false")))
	}
	dc, err := filepath.Abs(*daemonctl)
	check(err)
	here, err := os.Getwd()
	check(err)
	dsScript := filepath.Join(here, "bench/baselines/ds-daemon.sh")

	tools := []tool{
		{"kill + pidfd wait (the process's own exit)", *runs, startSleep, stopDirect},
		{"daemonctl stop", *runs,
			func(dir string) error { return run(dir, dc, "-c", "daemonctl.yaml", "start") },
			func(dir string) error { return run(dir, dc, "-c", "daemonctl.yaml", "stop") }},
		{"start-stop-daemon --retry TERM/30/KILL/5", *runs,
			func(dir string) error {
				return run(dir, "start-stop-daemon", "--start", "--background", "--make-pidfile", "--pidfile", "s.pid", "--exec", "/bin/sleep", "--", "1000")
			},
			func(dir string) error {
				return run(dir, "start-stop-daemon", "--stop", "--pidfile", "s.pid", "--remove-pidfile", "--retry", "TERM/30/KILL/5")
			}},
		{"dolphinscheduler-daemon.sh semantics", *slowRuns,
			func(dir string) error { return run(dir, dsScript, "start", "srv", dir, "sleep 1000") },
			func(dir string) error { return run(dir, dsScript, "stop", "srv", dir) }},
	}
	results := make([][]time.Duration, len(tools))
	for i, t := range tools {
		for r := 0; r < t.runs; r++ {
			dir, err := os.MkdirTemp("", "stopbench")
			check(err)
			check(os.WriteFile(filepath.Join(dir, "daemonctl.yaml"), []byte("services:\n  srv:\n    command: [sleep, \"1000\"]\n    start_grace: 0s\n"), 0o644))
			check(t.start(dir))
			time.Sleep(20 * time.Millisecond) // let the server settle
			began := time.Now()
			check(t.stop(dir))
			results[i] = append(results[i], time.Since(began))
			os.RemoveAll(dir)
		}
	}
	printTable(tools, results)
}

// reapWhileRunning re-runs this program as its child, having made itself
// a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), and reaps every
// orphan the moment it exits, until the child does. Without it, orphans
// go to this sandbox's PID 1, which reaps only every few seconds, and
// tools that wait for a pid to vanish look far slower than they are.
func reapWhileRunning(args []string) int {
	check(unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	self, err := os.Executable()
	check(err)
	child := exec.Command(self, args...)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	check(child.Start())
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err != nil && err != unix.EINTR {
			return 1
		}
		if pid == child.Process.Pid {
			return ws.ExitStatus()
		}
	}
}

var sleepPID int

func startSleep(dir string) error {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		return err
	}
	sleepPID = cmd.Process.Pid
	return nil
}

func stopDirect(string) error {
	fd, err := unix.PidfdOpen(sleepPID, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil {
		return err
	}
	_, err = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
	return err
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

func printTable(tools []tool, results [][]time.Duration) {
	ref := median(results[1])
	fmt.Printf("| %-44s | %4s | %10s | %10s | %10s | %-16s |\n", "stop of a server that exits on TERM", "runs", "min", "median", "max", "median ÷ daemonctl")
	fmt.Printf("|%s|------|------------|------------|------------|--------------------|\n", strings.Repeat("-", 46))
	for i, t := range tools {
		r := slices.Clone(results[i])
		slices.Sort(r)
		fmt.Printf("| %-44s | %4d | %10s | %10s | %10s | %-18s |\n", t.name, len(r), ms(r[0]), ms(median(r)), ms(r[len(r)-1]), strconv.FormatFloat(float64(median(r))/float64(ref), 'f', 2, 64)+"×")
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "stopbench:", err)
		os.Exit(1)
	}
}

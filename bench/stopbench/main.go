// Command stopbench measures how long stopping a server takes with
// daemonctl and with the tools it replaces, in one run on one machine, and
// prints a table of minimum, median and maximum with the ratio of each
// tool to daemonctl, and how often each tool left part of the server
// running. Two servers: `sleep`, which exits the moment it gets SIGTERM,
// so every millisecond above the bare kill is the tool's own; and a JVM
// behind a bash wrapper that does not exec it, as DolphinScheduler's
// bin/start.sh runs its servers. A last table times `status` of one
// service.
package main

import (
	"bytes"
	"context"
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

	"github.com/daemonctl/daemonctl/bench/internal/measure"
	"github.com/daemonctl/daemonctl/bench/internal/pidstop"
	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
)

// A server is what the tools start and stop. Its command line carries the
// run's marker, so that whatever is left of it after a stop is found.
type server struct {
	title string
	// command runs the server, as a shell command line.
	command func(marker string) string
	// direct runs the server itself with no wrapper, for the baseline.
	direct func(marker string) string
	// ready waits until the server can take a stop (not timed).
	ready func(dir string) error
}

type tool struct {
	name  string
	runs  int
	start func(dir, command string) error
	stop  func(dir string) error
	// direct: start the server with no wrapper (the baseline).
	direct bool
}

var (
	daemonctl = flag.String("daemonctl", "bin/daemonctl", "daemonctl binary")
	runs      = flag.Int("runs", 30, "runs per fast tool and server")
	jvmRuns   = flag.Int("jvm-runs", 10, "runs per fast tool with the JVM")
	slowRuns  = flag.Int("slow-runs", 3, "runs of tools that sleep a fixed 5 s")
)

func main() {
	asReaper := flag.Bool("reaper", true, "run the measurements under a subreaper that reaps orphans at once, as a real init does")
	flag.Parse()
	if *asReaper {
		os.Exit(reapWhileRunning(append(os.Args[1:], "-reaper=false")))
	}
	dc, err := filepath.Abs(*daemonctl)
	measure.Check(err)
	*daemonctl = dc
	here, err := os.Getwd()
	measure.Check(err)
	dsScript := filepath.Join(here, "bench/baselines/ds-daemon.sh")

	tools := []tool{
		{"kill + pidfd wait (the process's own exit)", *runs, startDirect, stopDirect, true},
		{"daemonctl stop", *runs,
			func(dir, command string) error { return startDaemonctl(dir, command) },
			func(dir string) error { return measure.Run(dir, dc, "stop") }, false},
		{"daemonctl's stop alone (lifecycle.Manager.Stop)", *runs,
			func(dir, command string) error { return startDaemonctl(dir, command) },
			func(dir string) error { return stopInProcess(dir, dc) }, false},
		{"start-stop-daemon --retry TERM/30/KILL/5", *runs,
			func(dir, command string) error {
				return measure.Run(dir, "start-stop-daemon", "--start", "--background", "--make-pidfile", "--pidfile", "s.pid", "--chdir", dir, "--exec", "/bin/bash", "--", "-c", command)
			},
			func(dir string) error {
				return measure.Run(dir, "start-stop-daemon", "--stop", "--pidfile", "s.pid", "--remove-pidfile", "--retry", "TERM/30/KILL/5")
			}, false},
		{"dolphinscheduler-daemon.sh semantics", *slowRuns,
			func(dir, command string) error { return measure.Run(dir, dsScript, "start", "srv", dir, command) },
			func(dir string) error { return measure.Run(dir, dsScript, "stop", "srv", dir) }, false},
	}
	fmt.Printf("# stop\n\n")
	measureStops(sleepServer(), tools)
	if *jvmRuns > 0 {
		fmt.Println()
		jvm, err := jvmServer()
		measure.Check(err)
		for i := range tools {
			tools[i].runs = min(tools[i].runs, *jvmRuns)
		}
		measureStops(jvm, tools)
	}
	fmt.Printf("\n# status of one service\n\n")
	measureStatus(dc, dsScript)
}

// measureStops runs every tool against srv and prints the table.
func measureStops(srv server, tools []tool) {
	results := make([][]time.Duration, len(tools))
	left := make([]int, len(tools))
	for i, t := range tools {
		for r := range t.runs {
			dir, err := os.MkdirTemp("", "stopbench")
			measure.Check(err)
			marker := fmt.Sprintf("%d%03d%03d", os.Getpid(), i, r)
			command := srv.command(marker)
			if t.direct {
				command = srv.direct(marker)
			}
			measure.Check(t.start(dir, command))
			measure.Check(srv.ready(dir))
			time.Sleep(20 * time.Millisecond) // let the server settle
			began := time.Now()
			measure.Check(t.stop(dir))
			results[i] = append(results[i], time.Since(began))
			if killMarked(marker) > 0 {
				left[i]++
			}
			os.RemoveAll(dir)
		}
	}
	printTable(srv.title, tools, results, left)
}

func startDaemonctl(dir, command string) error {
	config := fmt.Sprintf("services:\n  srv:\n    command: %q\n    start_grace: 0s\n", command)
	if err := os.WriteFile(filepath.Join(dir, "daemonctl.yaml"), []byte(config), 0o644); err != nil {
		return err
	}
	return measure.Run(dir, *daemonctl, "start")
}

// stopInProcess is what `daemonctl stop` does once it runs: the same
// package call, without starting a process first.
func stopInProcess(dir, dc string) error {
	path := filepath.Join(dir, "daemonctl.yaml")
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	monitor := lifecycle.SupervisorCommand{Path: dc, Args: []string{"daemonctl", "--config", path, "__supervisor"}}
	return lifecycle.New(cfg, os.Environ(), nil, monitor).Stop(context.Background(), nil, lifecycle.StopOptions{})
}

func sleepServer() server {
	return server{
		title:   "stop of a server that exits on TERM",
		command: func(marker string) string { return "exec sleep 1000." + marker },
		direct:  func(marker string) string { return "exec sleep 1000." + marker },
		ready:   func(string) error { return nil },
	}
}

// jvmServer compiles a small Java server and returns it run behind a bash
// wrapper that, like DolphinScheduler's bin/start.sh, does not exec it:
// the JVM is the wrapper's child. The JVM exits on TERM after its
// shutdown hook has run.
func jvmServer() (server, error) {
	classes, err := os.MkdirTemp("", "stopbench-classes")
	if err != nil {
		return server{}, err
	}
	src := filepath.Join(classes, "Server.java")
	if err := os.WriteFile(src, []byte(javaServer), 0o644); err != nil {
		return server{}, err
	}
	if out, err := exec.Command("javac", "-d", classes, src).CombinedOutput(); err != nil {
		return server{}, fmt.Errorf("javac: %v: %s", err, out)
	}
	wrapper := filepath.Join(classes, "start.sh")
	if err := os.WriteFile(wrapper, []byte(startSh), 0o755); err != nil {
		return server{}, err
	}
	return server{
		title:   "stop of a JVM behind a bash start.sh",
		command: func(marker string) string { return fmt.Sprintf("bash %s %s %s", wrapper, classes, marker) },
		direct:  func(marker string) string { return "exec " + fmt.Sprintf(javaCommand, marker, classes) },
		ready:   waitFile("ready"),
	}, nil
}

const javaServer = `public class Server {
    public static void main(String[] args) throws Exception {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("shutdown hook ran")));
        java.nio.file.Files.writeString(java.nio.file.Path.of("ready"), "ready\n");
        System.out.println("ready");
        Thread.sleep(Long.MAX_VALUE);
    }
}
`

const javaCommand = "java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dbench.run=%s -cp %s Server"

// startSh is the wrapper: the JVM runs as its child, not in its place.
var startSh = "#!/bin/bash\n" + fmt.Sprintf(javaCommand, "$2", "$1") + "\necho \"start.sh: java exited with $?\"\n"

func waitFile(name string) func(dir string) error {
	return func(dir string) error {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return nil
			}
		}
		return fmt.Errorf("%s did not appear in %s", name, dir)
	}
}

// killMarked SIGKILLs every process whose command line carries marker and
// says how many there were: what a tool's stop left running.
func killMarked(marker string) int {
	found := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(cmdline, []byte(marker)) && !isZombie(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			found++
		}
	}
	return found
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	end := bytes.LastIndexByte(stat, ')')
	return end < 0 || end+2 >= len(stat) || stat[end+2] == 'Z'
}

// reapWhileRunning re-runs this program as its child, having made itself
// a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), and reaps every
// orphan the moment it exits, until the child does. Without it, orphans
// go to this sandbox's PID 1, which reaps only every few seconds, and
// tools that wait for a pid to vanish look far slower than they are.
func reapWhileRunning(args []string) int {
	measure.Check(unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	self, err := os.Executable()
	measure.Check(err)
	child := exec.Command(self, args...)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	measure.Check(child.Start())
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

var directPID int

// startDirect runs the server's command itself, as the bare baseline.
func startDirect(dir, command string) error {
	cmd := exec.Command("bash", "-c", command)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return err
	}
	directPID = cmd.Process.Pid
	return nil
}

func stopDirect(string) error { return pidstop.TermAndWait(directPID) }

// measureStatus times `status` of one running service with each tool that
// has one.
func measureStatus(dc, dsScript string) {
	dir, err := os.MkdirTemp("", "statusbench")
	measure.Check(err)
	defer os.RemoveAll(dir)
	measure.Check(os.WriteFile(filepath.Join(dir, "daemonctl.yaml"), []byte("services:\n  srv:\n    command: [sleep, \"1000\"]\n    start_grace: 0s\n"), 0o644))
	measure.Check(measure.Run(dir, dc, "start"))
	defer measure.Run(dir, dc, "stop")
	measure.Check(measure.Run(dir, "start-stop-daemon", "--start", "--background", "--make-pidfile", "--pidfile", "s.pid", "--exec", "/bin/sleep", "--", "1000"))
	defer measure.Run(dir, "start-stop-daemon", "--stop", "--pidfile", "s.pid", "--remove-pidfile")
	measure.Check(measure.Run(dir, dsScript, "start", "ds", dir, "exec sleep 1000"))
	defer measure.Run(dir, dsScript, "stop", "ds", dir)
	cases := []struct {
		name string
		argv []string
	}{
		{"daemonctl status", []string{dc, "status", "srv"}},
		{"daemonctl status --json", []string{dc, "status", "--json", "srv"}},
		{"start-stop-daemon --status", []string{"start-stop-daemon", "--status", "--pidfile", "s.pid"}},
		{"dolphinscheduler-daemon.sh semantics", []string{dsScript, "status", "ds", dir}},
	}
	var names []string
	results := make([][]time.Duration, len(cases))
	for i, c := range cases {
		names = append(names, c.name)
		for range *runs {
			began := time.Now()
			measure.Check(measure.Run(dir, c.argv[0], c.argv[1:]...))
			results[i] = append(results[i], time.Since(began))
		}
	}
	fmt.Printf("| %-48s | %4s | %10s | %10s | %10s | %-18s |\n", "status of one running service", "runs", "min", "median", "max", "median ÷ daemonctl")
	fmt.Printf("|%s|------|------------|------------|------------|--------------------|\n", strings.Repeat("-", 50))
	for i, r := range results {
		printRow(names[i], r, measure.Median(results[0]), "")
	}
}

func printTable(title string, tools []tool, results [][]time.Duration, left []int) {
	fmt.Printf("| %-48s | %4s | %10s | %10s | %10s | %-18s | %s |\n", title, "runs", "min", "median", "max", "median ÷ daemonctl", "runs that left part of it running")
	fmt.Printf("|%s|------|------------|------------|------------|--------------------|---|\n", strings.Repeat("-", 50))
	for i, t := range tools {
		printRow(t.name, results[i], measure.Median(results[1]), fmt.Sprintf(" %d of %d |", left[i], len(results[i])))
	}
}

func printRow(name string, r []time.Duration, ref time.Duration, extra string) {
	if len(r) == 0 {
		return // a tool given no runs (-slow-runs 0)
	}
	r = slices.Clone(r)
	slices.Sort(r)
	fmt.Printf("| %-48s | %4d | %10s | %10s | %10s | %-18s |%s\n", name, len(r), ms(r[0]), ms(measure.Median(r)), ms(r[len(r)-1]), strconv.FormatFloat(float64(measure.Median(r))/float64(ref), 'f', 2, 64)+"×", extra)
}

func ms(d time.Duration) string { return measure.Ms(d, 2) }

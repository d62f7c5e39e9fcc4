package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/daemonctl/daemonctl/internal/cli"
	"github.com/daemonctl/daemonctl/internal/proc"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"daemonctl": func() {
			os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()}))
		},
		"testserver": testserverMain,
	})
}

// tagVar marks every process a scenario starts, so that the scenario's
// cleanup finds and kills whatever it left, however it was started.
const tagVar = "DAEMONCTL_TEST_TAG"

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setup,
		Condition:           scriptCondition,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"spawn":        cmdSpawn,
			"alive":        cmdAlive,
			"signal":       cmdSignal,
			"concurrently": cmdConcurrently,
			"lines":        cmdLines,
			"waitfile":     cmdWaitFile,
			"subst":        cmdSubst,
			"waitgone":     cmdWaitGone,
			"waitstate":    cmdWaitState,
			"procs":        cmdProcs,
			"mounttmpfs":   cmdMountTmpfs,
			"remount":      cmdRemount,
			"hosts":        cmdHosts,
			"exits":        cmdExits,
			"tmpuser":      cmdTmpUser,
			"spawnas":      cmdSpawnAs,
			"chownuser":    cmdChownUser,
			"forgerecord":  cmdForgeRecord,
			"oldsocket":    cmdOldSocket,
			"notifysock":   cmdNotifySock,
			"promparse":    cmdPromParse,
		},
	})
}

func setup(env *testscript.Env) error {
	tag := randomHex()
	env.Setenv(tagVar, tag)
	// REPO is the repository's root, for scenarios that build from it
	// (the container images).
	if wd, err := os.Getwd(); err == nil {
		env.Setenv("REPO", filepath.Dir(filepath.Dir(wd)))
	}
	// A race-enabled binary otherwise sleeps a second as it exits, and
	// every daemonctl and testserver here is this (maybe race) binary.
	env.Setenv("GORACE", "atexit_sleep_ms=0")
	// Every scenario goes through the parsed-config cache (package
	// configcache), as an operator's commands do; testscript's HOME
	// (/no-home) would leave it off.
	env.Setenv("XDG_CACHE_HOME", filepath.Join(env.WorkDir, ".cache"))
	for i := 1; i <= 4; i++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		env.Setenv(fmt.Sprintf("PORT%d", i), strconv.Itoa(port))
	}
	env.Defer(func() { killTagged(tag) })
	return nil
}

// scriptCondition answers the conditions a scenario puts before what it
// needs, as Go's own cmd/go scripts do (scriptconds_test.go), so that a
// machine without the tool skips with the reason instead of failing.
// testscript itself answers [exec:PROGRAM]. CI installs everything, and
// fails if anything was skipped there (scripts/testreport).
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "zookeeper":
		_, err := os.Stat("/usr/share/zookeeper/bin/zkServer.sh")
		return err == nil, nil
	case "jdk":
		// The source-file launcher (java Foo.java) needs the compiler.
		out, err := exec.Command("java", "--list-modules").Output()
		return err == nil && bytes.Contains(out, []byte("jdk.compiler")), nil
	case "useradd":
		_, err := exec.LookPath("useradd")
		return err == nil && os.Geteuid() == 0, nil
	case "kazoo":
		// Debian's python3-kazoo is for Debian's python3, whatever PATH finds first
		return exec.Command("/usr/bin/python3", "-c", "import kazoo").Run() == nil, nil
	case "ansible":
		_, err := exec.LookPath("ansible-playbook")
		return err == nil, nil
	case "netns":
		for _, tool := range []string{"ip", "ssh", "ssh-keygen", "/usr/sbin/sshd"} {
			if _, err := exec.LookPath(tool); err != nil {
				return false, nil
			}
		}
		return os.Geteuid() == 0, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{} // never twice in one test process
)

// freePort returns a loopback port that is free now and lies below the
// kernel's ephemeral range: a port from that range may be taken between
// two runs of a server by the client end of any connection, even by a
// readiness probe connecting to that very port (a TCP self-connect).
func freePort() (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		fmt.Sscan(string(b), &low)
	}
	if low <= 11000 {
		return 0, fmt.Errorf("ephemeral port range starts at %d: no room below it for test servers", low)
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 10000 + mathrand.IntN(low-10000)
		if portsGiven[port] {
			continue
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			portsGiven[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free port below the ephemeral range")
}

// killTagged SIGKILLs every process whose environment carries the
// scenario's tag, until none is left.
func killTagged(tag string) {
	for range 50 {
		pids := tagged(tag, nil)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tagged lists the live (not zombie) processes, other than this one,
// whose environment carries tag and that match (when match is not nil),
// which sees each one's argv[0] and environment.
func tagged(tag string, match func(argv0 string, env []byte) bool) []int {
	want := []byte(tagVar + "=" + tag + "\x00")
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		if match != nil {
			cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			argv0, _, _ := bytes.Cut(cmdline, []byte{0})
			if !match(string(argv0), env) {
				continue
			}
		}
		if info, err := proc.Inspect(pid); err == nil && !info.Zombie {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readPID(ts *testscript.TestScript, file string) int {
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(file)))
	if err != nil {
		ts.Fatalf("%s: no pid: %v", file, err)
	}
	return pid
}

// spawn PIDFILE CMD [ARGS...]: start a process that daemonctl knows nothing
// about, in its own session, and write its pid to PIDFILE.
func cmdSpawn(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: spawn PIDFILE CMD [ARGS...]")
	}
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = scriptEnv(ts)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	ts.Check(cmd.Start())
	go cmd.Wait() // reap it when it ends
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
}

// alive PIDFILE: the process named in PIDFILE runs (and is not a zombie).
func cmdAlive(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: alive PIDFILE")
	}
	pid := readPID(ts, args[0])
	info, err := proc.Inspect(pid)
	alive := err == nil && !info.Zombie
	if alive == neg {
		ts.Fatalf("pid %d alive: %v", pid, alive)
	}
}

// signal SIG PIDFILE: send a signal (e.g. KILL) to the process in PIDFILE.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal SIG PIDFILE")
	}
	sig := map[string]syscall.Signal{"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT,
		"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2}[args[0]]
	if sig == 0 {
		ts.Fatalf("signal %s: unknown", args[0])
	}
	ts.Check(syscall.Kill(readPID(ts, args[1]), sig))
}

// concurrently N CMD [ARGS...]: run N copies at once; all must exit 0.
func cmdConcurrently(ts *testscript.TestScript, neg bool, args []string) {
	n, err := strconv.Atoi(args[0])
	if neg || err != nil || len(args) < 2 {
		ts.Fatalf("usage: concurrently N CMD [ARGS...]")
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([][]byte, n)
	for i := range n {
		wg.Go(func() {
			outs[i], errs[i] = scriptCommand(ts, args[1], args[2:]...).CombinedOutput()
		})
	}
	wg.Wait()
	for i, err := range errs {
		fmt.Fprintf(ts.Stdout(), "%s", outs[i])
		if err != nil {
			ts.Fatalf("copy %d: %v", i, err)
		}
	}
}

// exits N CMD [ARGS...]: run CMD, which must exit with status N; its
// output is the script's stdout and stderr, for the checks that follow.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	want, err := strconv.Atoi(args[0])
	if neg || err != nil || len(args) < 2 {
		ts.Fatalf("usage: exits N CMD [ARGS...]")
	}
	cmd := scriptCommand(ts, args[1], args[2:]...)
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	err = cmd.Run()
	got := 0
	if exit, ok := err.(*exec.ExitError); ok {
		got = exit.ExitCode()
	} else if err != nil {
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// scriptCommand is name (from PATH, else $WORK) with args, run as the
// script's own commands are: in $WORK, with the script's environment.
func scriptCommand(ts *testscript.TestScript, name string, args ...string) *exec.Cmd {
	path, err := exec.LookPath(name)
	if err != nil {
		path = filepath.Join(ts.Getenv("WORK"), name)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = scriptEnv(ts)
	return cmd
}

// scriptEnv is the environment a script's own commands run with.
func scriptEnv(ts *testscript.TestScript) []string {
	env := os.Environ()
	for _, k := range []string{"PATH", "WORK", "HOME", "TMPDIR", "DAEMONCTL_CONFIG", "GORACE", tagVar, "PORT1", "PORT2", "PORT3", "PORT4"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

// lines FILE N: FILE has exactly N lines.
func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: lines FILE N")
	}
	want, _ := strconv.Atoi(args[1])
	got := strings.Count(ts.ReadFile(args[0]), "\n")
	if (got == want) == neg {
		ts.Fatalf("%s has %d lines, want %d", args[0], got, want)
	}
}

// waitfile FILE: wait (up to 30s) until FILE exists.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear", args[0])
}

// subst FILE...: replace ${VAR} in each file with the script's VAR, so
// that configs can use the ports a scenario was given.
func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		text := os.Expand(ts.ReadFile(f), ts.Getenv)
		ts.Check(os.WriteFile(ts.MkAbs(f), []byte(text), 0o644))
	}
}

// waitgone PIDFILE: wait (up to 30s) until the process in PIDFILE is gone;
// a signal is delivered asynchronously.
func cmdWaitGone(ts *testscript.TestScript, neg bool, args []string) {
	pid := readPID(ts, args[0])
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if info, err := proc.Inspect(pid); err != nil || info.Zombie {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.Fatalf("pid %d still alive", pid)
}

// waitstate SERVICE STATE [TIMEOUT]: poll `daemonctl status --json SERVICE`
// until the service is in STATE (running, dead, failed, ...).
func cmdWaitState(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitstate SERVICE STATE [TIMEOUT]")
	}
	timeout := 30 * time.Second
	if len(args) > 2 {
		d, err := time.ParseDuration(args[2])
		ts.Check(err)
		timeout = d
	}
	self, err := os.Executable()
	ts.Check(err)
	want := `"state": "` + args[1] + `"`
	deadline := time.Now().Add(timeout)
	var out []byte
	for time.Now().Before(deadline) {
		cmd := exec.Command(self, "status", "--json", args[0])
		cmd.Args[0] = "daemonctl"
		cmd.Dir = ts.Getenv("WORK")
		cmd.Env = scriptEnv(ts)
		out, _ = cmd.Output()
		if bytes.Contains(out, []byte(want)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s not %s after %s; last status:\n%s", args[0], args[1], timeout, out)
}

// procs [-wait] NAME N: exactly N live processes of this scenario run
// NAME (with -wait: wait up to 30s until they do).
func cmdProcs(ts *testscript.TestScript, neg bool, args []string) {
	wait := len(args) > 0 && args[0] == "-wait"
	if wait {
		args = args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: procs [-wait] NAME N")
	}
	want, _ := strconv.Atoi(args[1])
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := countProcs(ts, args[0])
		if (got == want) != neg {
			return
		}
		if !wait || time.Now().After(deadline) {
			ts.Fatalf("%d processes run %s, want %d", got, args[0], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countProcs(ts *testscript.TestScript, name string) int {
	return len(tagged(ts.Getenv(tagVar), func(argv0 string, _ []byte) bool { return filepath.Base(argv0) == name }))
}

// mounttmpfs DIR SIZE: mount a tmpfs of SIZE (e.g. 256k) on DIR, to be
// unmounted when the scenario ends. Needs root, as CI runs.
func cmdMountTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mounttmpfs DIR SIZE")
	}
	if os.Geteuid() != 0 {
		ts.Fatalf("mounttmpfs needs root (CI runs as root)")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+args[1]+",mode=0755"))
	ts.Defer(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// remount DIR ro|rw: make the tmpfs on DIR read-only or writable again.
func cmdRemount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: remount DIR ro|rw")
	}
	flags := uintptr(syscall.MS_REMOUNT)
	if args[1] == "ro" {
		flags |= syscall.MS_RDONLY
	}
	ts.Check(syscall.Mount("tmpfs", ts.MkAbs(args[0]), "tmpfs", flags, ""))
}

package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// spawnTree launches a shell with two children in its process group and
// one that left it, all carrying the test's token.
func spawnTree(t *testing.T) Tree {
	t.Helper()
	return spawnShell(t, t.TempDir(), "sleep 100 & setsid sleep 100 & sleep 100; true")
}

// spawnShell runs script with sh in dir, carrying the test's token,
// reaped as it exits and stopped at the test's end, and returns its tree,
// with the pid count before its launch, as the monitor keeps it.
func spawnShell(t *testing.T, dir, script string) Tree {
	t.Helper()
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	token := "test-token-" + t.Name()
	born, err := ReadPIDCount()
	if err != nil {
		t.Fatal(err)
	}
	leader, err := Spawn(Spec{
		Argv:   []string{"/bin/sh", "-c", script},
		Dir:    dir,
		Env:    []string{"PATH=/usr/bin:/bin", TokenVar + "=" + token},
		Stdout: devnull, Stderr: devnull,
	})
	if err != nil {
		t.Fatal(err)
	}
	go unix.Wait4(leader.PID, nil, 0, nil)
	tree := Tree{Leader: leader, Token: token, Born: born}
	t.Cleanup(func() { tree.Stop(context.Background(), unix.SIGKILL, time.Second, time.Second) })
	return tree
}

func waitMembers(t *testing.T, tree Tree, n int) []Identity {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := tree.Members()
		if err != nil {
			t.Fatal(err)
		}
		if len(m) >= n || time.Now().After(deadline) {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With the pid count at the leader's launch, the stop reads the
// processes made after it; without (a record of an older daemonctl),
// every process. Both find every member.
func TestTreeStopEndsEveryMember(t *testing.T) {
	t.Run("count known", func(t *testing.T) { stopEndsEveryMember(t, spawnTree(t)) })
	t.Run("count unknown", func(t *testing.T) {
		tree := spawnTree(t)
		tree.Born = PIDCount{}
		stopEndsEveryMember(t, tree)
	})
}

func stopEndsEveryMember(t *testing.T, tree Tree) {
	members := waitMembers(t, tree, 4)
	if len(members) != 4 { // sh, two sleeps in its group, one that left it
		t.Fatalf("members = %v, want 4 processes", members)
	}
	res, err := tree.Stop(context.Background(), unix.SIGTERM, 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Signalled != 4 || res.Killed {
		t.Errorf("result %+v", res)
	}
	for _, id := range members {
		if id.Alive() {
			t.Errorf("pid %d survived", id.PID)
		}
	}
}

func TestIdentityRejectsReusedPID(t *testing.T) {
	leader := spawnTree(t).Leader
	if !leader.Alive() {
		t.Fatal("fresh child not alive")
	}
	reused := leader
	reused.StartTicks-- // the same pid, started at another time: another process
	if reused.Alive() {
		t.Error("identity with another start time reads alive")
	}
	if _, err := Open(reused); !errors.Is(err, ErrGone) {
		t.Errorf("Open(reused) = %v, want ErrGone", err)
	}
	otherBoot := leader
	otherBoot.BootID = "00000000-0000-0000-0000-000000000000"
	if otherBoot.Alive() {
		t.Error("identity from another boot reads alive")
	}
	// A tree whose leader is not alive and has no token finds nothing,
	// even though the pid's process group has members.
	if m, _ := (Tree{Leader: reused}).Members(); len(m) != 0 {
		t.Errorf("members of an impostor tree: %v", m)
	}
}

func TestChildExitStatus(t *testing.T) {
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	for _, tt := range []struct {
		script string
		want   string
	}{{"exit 3", "exit status 3"}, {"kill -KILL $$", "killed by signal KILL"}} {
		id, err := Spawn(Spec{Argv: []string{"/bin/sh", "-c", tt.script}, Dir: "/", Env: []string{"PATH=/bin:/usr/bin"}, Stdout: devnull, Stderr: devnull})
		if err != nil {
			t.Fatal(err)
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(id.PID, &ws, 0, nil); err != nil {
			t.Fatal(err)
		}
		if got := WaitStatus(ws).String(); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.script, got, tt.want)
		}
	}
	if FromSignal(unix.SIGKILL).Code != 137 {
		t.Error("128+signal")
	}
}

func TestFindInstances(t *testing.T) {
	tree := spawnTree(t)
	leader, token := tree.Leader, tree.Token
	waitMembers(t, tree, 4)
	found, err := FindInstances(TokenVar + "=" + token)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Leader != leader || found[0].Size != 4 || found[0].Token != token {
		t.Fatalf("found %+v, want one instance of 4 led by %v", found, leader)
	}
	if found, _ := FindInstances(TokenVar+"="+token, "NOT_THERE=1"); len(found) != 0 {
		t.Fatalf("a mark nobody carries found %+v", found)
	}
}

// A member that forks as it is stopped (a shell's TERM trap starting one
// more process, which leaves the process group) makes a member the first
// scan could not see: Stop looks again, and ends it too.
func TestTreeStopFindsMembersForkedLate(t *testing.T) {
	tree := spawnShell(t, t.TempDir(), "trap 'setsid sleep 100 & exit 0' TERM; while :; do sleep 0.05; done")
	waitMembers(t, tree, 1)
	if _, err := tree.Stop(context.Background(), unix.SIGTERM, 5*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	left, err := tree.Members()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("Stop returned with members left: %v", left)
	}
}

// The leader is told first, and a shell dies of it at once; a member of
// its process group that carries no token (its environment cleared) is
// found all the same, as a member of the group the leader led when it
// was told, and stopped with it.
func TestTreeStopEndsTheGroupOfALeaderThatDiesFirst(t *testing.T) {
	dir := t.TempDir()
	tree := spawnShell(t, dir, "env -i sleep 100 & echo $! >child; wait")
	if m := waitMembers(t, tree, 2); len(m) != 2 {
		t.Fatalf("members = %v, want the shell and its child", m)
	}
	child, err := Inspect(awaitPIDFile(t, filepath.Join(dir, "child")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := tree.Stop(context.Background(), unix.SIGTERM, 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if child.Identity.Alive() || res.Signalled != 2 {
		t.Errorf("the group's member without the token: alive %v, %d signalled", child.Identity.Alive(), res.Signalled)
	}
}

// A look begun ahead of a stop (BeginLook) misses the processes made
// after it; the stop finds them all the same, by the window opened
// before the look began: here a member that left the process group,
// made once the look was done.
func TestStopAfterALookEndsMembersMadeSinceItBegan(t *testing.T) {
	dir := t.TempDir()
	tree := spawnShell(t, dir, "while [ ! -e go ]; do sleep 0.01; done; setsid sleep 100 & echo $! >child; wait")
	waitMembers(t, tree, 1)
	look := tree.BeginLook()
	<-look.done
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pid := awaitPIDFile(t, filepath.Join(dir, "child"))
	child, err := Inspect(pid)
	if err != nil {
		t.Fatalf("the member made after the look: %v", err)
	}
	if _, err := tree.StopAfter(context.Background(), look, unix.SIGTERM, 5*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	if look.take() != nil {
		t.Error("the stop did not take the look")
	}
	if child.Identity.Alive() {
		t.Errorf("pid %d, made after the look, survived the stop", pid)
	}
}

func TestOwnThreadTellsThisProcesssThreadsFromOthers(t *testing.T) {
	self := os.Getpid()
	release := make(chan struct{})
	defer close(release)
	tid := self
	// Each goroutine holds its thread until the test ends, so that the
	// second, if the first ran on the main thread, runs on another.
	for try := 0; tid == self && try < 2; try++ {
		tids := make(chan int)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- unix.Gettid()
			<-release
		}()
		tid = <-tids
	}
	if tid == self || !ownThread(self, tid) {
		t.Errorf("ownThread(%d, %d) = false for a thread of this process", self, tid)
	}
	if ownThread(self, os.Getppid()) {
		t.Errorf("ownThread(%d, %d) = true for the parent process", self, os.Getppid())
	}
}

func TestParseStatReadsTheFieldsAfterTheCommandName(t *testing.T) {
	line := []byte("4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n")
	ppid, pgid, state, start, err := parseStat(line)
	if err != nil || ppid != 17 || pgid != 4242 || state != 'S' || start != 987654 {
		t.Errorf("parseStat = %d, %d, %c, %d, %v; want 17, 4242, S, 987654", ppid, pgid, state, start, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 1", "1 (x) S 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 12x 0"} {
		if _, _, _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) = nil error", bad)
		}
	}
}

// Every live process's stat line reads the same through parseStat as
// split into fields.
func TestParseStatAgreesWithASplitOfEveryProcess(t *testing.T) {
	pids, err := listPIDs(0)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, pid := range pids {
		name := strconv.Itoa(pid)
		line, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // not a process, or gone
		}
		after := string(line[strings.LastIndexByte(string(line), ')')+2:])
		f := strings.Fields(after)
		wantPPID, _ := strconv.Atoi(f[1])
		wantPGID, _ := strconv.Atoi(f[2])
		wantStart, _ := strconv.ParseUint(f[19], 10, 64)
		ppid, pgid, state, start, err := parseStat(line)
		if err != nil || ppid != wantPPID || pgid != wantPGID || state != f[0][0] || start != wantStart {
			t.Errorf("pid %s: parseStat = %d, %d, %c, %d, %v; split gives %d, %d, %s, %d", name, ppid, pgid, state, start, err, wantPPID, wantPGID, f[0], wantStart)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d processes checked", checked)
	}
}

// A listing from the leader's pid shows every member of its tree, and
// nothing below it; it is refused when the pid it would begin with is
// gone, and then everything is listed.
func TestListingFromALeaderShowsEveryProcessFromIt(t *testing.T) {
	tree := spawnTree(t)
	members := waitMembers(t, tree, 4)
	f, err := os.Open("/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, ok := namesFrom(f, tree.Leader.PID)
	if !ok {
		t.Fatalf("a listing from the live leader %d was refused", tree.Leader.PID)
	}
	from := map[string]bool{}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid < tree.Leader.PID {
			t.Errorf("a listing from pid %d holds %q", tree.Leader.PID, name)
		}
		from[name] = true
	}
	for _, m := range members {
		if !from[strconv.Itoa(m.PID)] {
			t.Errorf("member %d is missing from the listing from %d: %v", m.PID, tree.Leader.PID, names)
		}
	}
	gone := exitedPID(t)
	if _, ok := namesFrom(f, gone); ok {
		t.Errorf("a listing from pid %d, which has exited, was taken", gone)
	}
	// Refused, listPIDs lists everything and keeps the pids from gone up.
	pids, err := listPIDs(gone)
	if err != nil || slices.Contains(pids, tree.Leader.PID) != (tree.Leader.PID >= gone) || slices.ContainsFunc(pids, func(pid int) bool { return pid < gone }) {
		t.Errorf("listPIDs(%d) = %v, %v", gone, pids, err)
	}
}

// exitedPID returns the pid of a child that has exited and been reaped.
func exitedPID(t *testing.T) int {
	t.Helper()
	id, err := Spawn(Spec{Argv: []string{"/bin/true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Wait4(id.PID, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	return id.PID
}

// readForks and BootID read /proc without an os.File, and read what a
// plain read of the whole file gives.
func TestCountsAndBootIDReadAsTheirFilesSay(t *testing.T) {
	forksIn := func() uint64 {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			t.Fatal(err)
		}
		line, ok := processesLine(b)
		n, err := strconv.ParseUint(string(line), 10, 64)
		if !ok || err != nil {
			t.Fatalf("no processes line in /proc/stat: %q", b)
		}
		return n
	}
	before := forksIn()
	forks, err := readForks()
	if after := forksIn(); err != nil || forks < before || forks > after {
		t.Errorf("readForks = %d, %v; /proc/stat said %d, then %d", forks, err, before, after)
	}
	for _, cut := range []string{"cpu 1 2\nprocesses 12", "cpu 1 2\nprocess", "processes 12\n"} {
		if line, ok := processesLine([]byte(cut)); ok {
			t.Errorf("processesLine(%q) = %q: a line cut short, or not after a newline, was taken", cut, line)
		}
	}
	id, err := BootID()
	want, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil || id != strings.TrimSpace(string(want)) || len(id) != 36 {
		t.Errorf("BootID = %q, %v; the file says %q", id, err, want)
	}
}

// awaitPIDFile waits up to 10 seconds for a test's shell to write a pid,
// with its newline, to path (the child may be running before its pid is
// written), and returns it.
func awaitPIDFile(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if line, ok := strings.CutSuffix(string(b), "\n"); ok {
			pid, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no pid written within 10s (read %q)", path, b)
		}
	}
}

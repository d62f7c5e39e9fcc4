package proc

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/daemonctl/daemonctl/internal/stripe"
)

// entry is one live process in a scan of /proc.
type entry struct {
	Info
	tokenOnce sync.Once
	token     string
}

// instanceToken reads the process's TokenVar, once per scan.
func (e *entry) instanceToken() string {
	e.tokenOnce.Do(func() { e.token = readToken(e.PID, e.PPID) })
	return e.token
}

// kthreadd is the parent of every kernel thread, whose environment is
// empty for good.
const kthreadd = 2

// execRetries bounds how long readToken waits, 1 ms at a time, for a
// process caught in execve: its environment reads empty until the new
// program's is in place, and a member of a tree that forks and execs as
// it is stopped would otherwise be missed.
const execRetries = 20

func readToken(pid, ppid int) string {
	path := "/proc/" + strconv.Itoa(pid) + "/environ"
	env, err := os.ReadFile(path)
	for try := 0; err == nil && len(env) == 0 && pid != kthreadd && ppid != kthreadd && try < execRetries; try++ {
		time.Sleep(time.Millisecond)
		env, err = os.ReadFile(path)
	}
	if err != nil {
		return ""
	}
	prefix := []byte(TokenVar + "=")
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			return string(v)
		}
	}
	return ""
}

// scan lists the live (non-zombie) processes whose pid is lowest or more.
// Reading each one's stat is most of a stop's time, so a long list is
// read by one goroutine per CPU (a stop waits on it; status does not
// scan).
func scan(lowest int) ([]*entry, error) {
	pids, err := listPIDs(lowest)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	found := make([]*entry, len(pids))
	stripe.Do(len(pids), scanShare, func(indexes iter.Seq[int]) {
		for i := range indexes {
			if info, err := Inspect(pids[i]); err == nil && !info.Zombie {
				found[i] = &entry{Info: info}
			}
		}
	})
	return slices.DeleteFunc(found, func(e *entry) bool { return e == nil }), nil
}

// listPIDs lists the pids in /proc of lowest or more, but this process's.
func listPIDs(lowest int) ([]int, error) {
	f, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, ok := namesFrom(f, lowest)
	if !ok {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		if names, err = f.Readdirnames(-1); err != nil {
			return nil, err
		}
	}
	self := os.Getpid()
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid != self && pid >= lowest {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// firstPIDEntry is where /proc's listing of processes begins: Linux
// lists process pid at offset firstPIDEntry+pid (TGID_OFFSET in
// fs/proc/base.c, after its own entries, "self" and "thread-self"), so
// that a listing begun there shows the processes of that pid or more,
// and none below.
const firstPIDEntry = 256 + 2

// namesFrom lists the processes of pid lowest or more alone, sparing the
// kernel and the stop every process older than the tree being stopped
// (all of them but a few, on a host long up). It reports false when the
// listing does not begin with lowest itself, which lives when a stop
// looks: then the offsets are not the kernel's as firstPIDEntry says, or
// lowest is gone, and the caller lists everything.
func namesFrom(f *os.File, lowest int) ([]string, bool) {
	if lowest <= 0 {
		return nil, false
	}
	if _, err := f.Seek(int64(firstPIDEntry+lowest), io.SeekStart); err != nil {
		return nil, false
	}
	names, err := f.Readdirnames(-1)
	if err != nil || len(names) == 0 || names[0] != strconv.Itoa(lowest) {
		return nil, false
	}
	return names, true
}

// scanShare is how many processes are worth another goroutine
// (stripe.Do).
const scanShare = 64

// scans coalesces scans of /proc: many trees stopping at once (a stop of
// a thousand services) share scans instead of each reading every process,
// which would make the cost grow with the square of their number.
var scans scanGroup

type scanCall struct {
	lowest int // the lowest pid any of its callers asked for
	done   chan struct{}
	table  []*entry
	err    error
}

type scanGroup struct {
	mu      sync.Mutex
	running bool
	next    *scanCall // callers waiting for a scan that starts after them
}

// fresh returns a scan that started after fresh was called, so that it
// shows every process that existed then with a pid of lowest or more (and
// maybe others): a caller that arrives while a scan runs waits for the
// next one, which it shares with everyone else who arrived meanwhile.
func (g *scanGroup) fresh(lowest int) ([]*entry, error) {
	g.mu.Lock()
	if g.next == nil {
		g.next = &scanCall{lowest: lowest, done: make(chan struct{})}
	}
	c := g.next
	c.lowest = min(c.lowest, lowest)
	if !g.running {
		g.start()
	}
	g.mu.Unlock()
	<-c.done
	return c.table, c.err
}

// start runs the waiting call's scan; g.mu is held.
func (g *scanGroup) start() {
	c := g.next
	g.next, g.running = nil, true
	go func() {
		c.table, c.err = scan(c.lowest)
		close(c.done)
		g.mu.Lock()
		g.running = false
		if g.next != nil {
			g.start()
		}
		g.mu.Unlock()
	}()
}

// Instance is one service instance found in /proc by its environment.
type Instance struct {
	Token  string
	Leader Identity // the process of the tree that started first
	Size   int      // processes in its tree
}

// FindInstances finds, in a fresh scan of /proc, the instances whose
// processes carry every KEY=VALUE of marks in their environment, grouped
// by instance token: how daemonctl finds services again whose records
// were lost. It reads every process's environment: it is for when records
// are missing, not for every status.
func FindInstances(marks ...string) ([]Instance, error) {
	table, err := scans.fresh(0)
	if err != nil {
		return nil, err
	}
	byToken := map[string]*Instance{}
	var order []string
	for _, e := range table {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(e.PID) + "/environ")
		if err != nil || !hasAll(env, marks) {
			continue
		}
		token := e.instanceToken()
		in := byToken[token]
		if in == nil {
			in = &Instance{Token: token, Leader: e.Identity}
			byToken[token] = in
			order = append(order, token)
		}
		in.Size++
		if e.StartTicks < in.Leader.StartTicks {
			in.Leader = e.Identity
		}
	}
	out := make([]Instance, len(order))
	for i, t := range order {
		out[i] = *byToken[t]
	}
	return out, nil
}

func hasAll(env []byte, marks []string) bool {
	for _, m := range marks {
		if !bytes.Contains(env, append(append([]byte{0}, m...), 0)) && !bytes.HasPrefix(env, append([]byte(m), 0)) {
			return false
		}
	}
	return true
}

// CommandLine is process pid's command line for messages, shortened to
// 200 bytes; "?" when it cannot be read.
func CommandLine(pid int) string {
	args, err := Cmdline(pid)
	if err != nil || len(args) == 0 || args[0] == "" {
		return "?"
	}
	cmd := strings.Join(args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	return cmd
}

// Cmdline returns the arguments process pid runs with.
func Cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// ArgIndex indexes the live processes of one scan of /proc by their
// arguments, to find the processes that run a given script.
type ArgIndex struct {
	byArg map[string][]Info
}

// IndexArgs scans /proc once for ArgIndex.
func IndexArgs() (*ArgIndex, error) {
	table, err := scans.fresh(0)
	if err != nil {
		return nil, err
	}
	ix := &ArgIndex{byArg: map[string][]Info{}}
	for _, e := range table {
		args, err := Cmdline(e.PID)
		if err != nil {
			continue
		}
		for _, a := range slices.Compact(slices.Sorted(slices.Values(args))) {
			if strings.HasPrefix(a, "/") {
				ix.byArg[a] = append(ix.byArg[a], e.Info)
			}
		}
	}
	return ix, nil
}

// Find returns the processes one of whose arguments is the absolute path
// arg, oldest first, leaving out those whose parent runs it too: the
// roots of the trees that run it.
func (ix *ArgIndex) Find(arg string) []Identity {
	found := ix.byArg[arg]
	pids := map[int]bool{}
	for _, in := range found {
		pids[in.PID] = true
	}
	var out []Identity
	for _, in := range found {
		if !pids[in.PPID] {
			out = append(out, in.Identity)
		}
	}
	slices.SortFunc(out, func(a, b Identity) int { return cmp.Compare(a.StartTicks, b.StartTicks) })
	return out
}

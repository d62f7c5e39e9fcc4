// Package inherit owns what a launched service inherits from the command
// that asked for it besides its environment: the file mode creation mask
// (umask) and the resource limits.
//
// The supervisor outlives the command that spawned it, and later commands
// may run with other limits (a login shell, a systemd unit, an Ansible
// task), so each request carries its caller's Attrs and the service gets
// them, unless its config says otherwise.
//
// A Go program cannot read its own original open-files soft limit: the
// runtime raises it at startup and puts it back only in its children
// (go.dev/issue/46279). When the limit looks raised, Current asks a child.
package inherit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Limit is one resource limit, as getrlimit(2) reports it.
type Limit struct {
	Resource int    `json:"resource"`
	Cur      uint64 `json:"cur"`
	Max      uint64 `json:"max"`
}

// Attrs are the umask and resource limits a process runs with.
type Attrs struct {
	Umask  uint32  `json:"umask"`
	Limits []Limit `json:"limits"` // one per resource, in resources' order
}

// resources are the limits Attrs carry, with the names ulimit and prlimit
// use for them.
var resources = []struct {
	res  int
	name string
}{
	{unix.RLIMIT_CPU, "cpu"},
	{unix.RLIMIT_FSIZE, "fsize"},
	{unix.RLIMIT_DATA, "data"},
	{unix.RLIMIT_STACK, "stack"},
	{unix.RLIMIT_CORE, "core"},
	{unix.RLIMIT_RSS, "rss"},
	{unix.RLIMIT_NPROC, "nproc"},
	{unix.RLIMIT_NOFILE, "nofile"},
	{unix.RLIMIT_MEMLOCK, "memlock"},
	{unix.RLIMIT_AS, "as"},
	{unix.RLIMIT_LOCKS, "locks"},
	{unix.RLIMIT_SIGPENDING, "sigpending"},
	{unix.RLIMIT_MSGQUEUE, "msgqueue"},
	{unix.RLIMIT_NICE, "nice"},
	{unix.RLIMIT_RTPRIO, "rtprio"},
	{unix.RLIMIT_RTTIME, "rttime"},
}

// resourceName is resource's name as ulimit(1) and prlimit(1) spell it.
func resourceName(resource int) string {
	for _, r := range resources {
		if r.res == resource {
			return r.name
		}
	}
	return "resource " + strconv.Itoa(resource)
}

// resourceNamed is the resource named name, as resourceName spells it.
func resourceNamed(name string) (int, bool) {
	for _, r := range resources {
		if r.name == name {
			return r.res, true
		}
	}
	return 0, false
}

// Current returns what a child of this process inherits: its umask and
// its limits, with the open-files soft limit as the Go runtime restores it
// in children.
func Current() (Attrs, error) {
	var a Attrs
	mask, err := umask()
	if err != nil {
		return a, err
	}
	a.Umask = mask
	for _, r := range resources {
		var lim unix.Rlimit
		if err := unix.Getrlimit(r.res, &lim); err != nil {
			return a, fmt.Errorf("getrlimit %s: %w", r.name, err)
		}
		a.Limits = append(a.Limits, Limit{r.res, lim.Cur, lim.Max})
		if r.res == unix.RLIMIT_NOFILE && raisedByRuntime(lim) {
			if cur, max, err := childNoFile(); err == nil && max == lim.Max {
				a.Limits[len(a.Limits)-1].Cur = cur
			}
		}
	}
	return a, nil
}

var children = sync.OnceValues(Current)

// Children is Current, found once: for a process that does not change its
// own umask or limits, such as the supervisor.
func Children() (Attrs, error) { return children() }

// raisedByRuntime reports whether lim looks like the Go runtime's raise of
// the open-files soft limit at startup: it sets the soft limit one below
// the hard one.
func raisedByRuntime(lim unix.Rlimit) bool {
	return lim.Max != unix.RLIM_INFINITY && lim.Max > 0 && lim.Cur == lim.Max-1
}

// childNoFile returns the open-files limit a child of this process gets,
// read from a short-lived child: true(1), which needs nothing and is
// everywhere a shell is. A zombie's limits are still readable, so it is
// read before it is reaped.
func childNoFile() (cur, max uint64, err error) {
	var path string
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if unix.Access(p, unix.X_OK) == nil {
			path = p
			break
		}
	}
	if path == "" {
		return 0, 0, fmt.Errorf("no true(1) to ask")
	}
	pid, err := syscall.ForkExec(path, []string{"true"}, &syscall.ProcAttr{Env: []string{}})
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for {
			if _, err := unix.Wait4(pid, nil, 0, nil); err != unix.EINTR {
				return
			}
		}
	}()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		return 0, 0, err
	}
	return parseLimitsLine(data, "Max open files")
}

// parseLimitsLine reads the soft and hard values of the line named name
// in a /proc/PID/limits file.
func parseLimitsLine(data []byte, name string) (cur, max uint64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			break
		}
		if cur, err = parseLimit(f[0]); err == nil {
			max, err = parseLimit(f[1])
		}
		return cur, max, err
	}
	return 0, 0, fmt.Errorf("no %q in /proc limits", name)
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" {
		return unix.RLIM_INFINITY, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// umask reads this process's umask without changing it (umask(2) can only
// set it, and setting it twice races with other threads creating files).
func umask() (uint32, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return uint32(m), err
		}
	}
	return 0, fmt.Errorf("no Umask in /proc/self/status (Linux 4.7 or later has it)")
}

// Limit returns a's limit of resource, if it carries one.
func (a Attrs) Limit(resource int) (Limit, bool) {
	for _, l := range a.Limits {
		if l.Resource == resource {
			return l, true
		}
	}
	return Limit{}, false
}

// With returns a with resource's limit set to cur and max.
func (a Attrs) With(resource int, cur, max uint64) Attrs {
	limits := make([]Limit, 0, len(a.Limits)+1)
	found := false
	for _, l := range a.Limits {
		if l.Resource == resource {
			l.Cur, l.Max, found = cur, max, true
		}
		limits = append(limits, l)
	}
	if !found {
		limits = append(limits, Limit{resource, cur, max})
	}
	a.Limits = limits
	return a
}

// Equal reports whether a and b are the same umask and limits.
func (a Attrs) Equal(b Attrs) bool {
	if a.Umask != b.Umask || len(a.Limits) != len(b.Limits) {
		return false
	}
	for _, l := range a.Limits {
		if m, ok := b.Limit(l.Resource); !ok || m != l {
			return false
		}
	}
	return true
}

// Apply sets a's umask and limits on this process, for a helper about to
// exec the service. Limits go through syscall.Setrlimit, which also stops
// the runtime from putting back its own open-files limit at exec.
func (a Attrs) Apply() error {
	syscall.Umask(int(a.Umask))
	for _, l := range a.Limits {
		if err := syscall.Setrlimit(l.Resource, &syscall.Rlimit{Cur: l.Cur, Max: l.Max}); err != nil {
			return fmt.Errorf("limit %s=%s:%s: %w", resourceName(l.Resource), formatLimit(l.Cur), formatLimit(l.Max), err)
		}
	}
	return nil
}

// String renders a as the helper's flag takes it back (Parse):
// "umask=0022 nofile=1024:524288 ...".
func (a Attrs) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "umask=%04o", a.Umask)
	for _, l := range a.Limits {
		fmt.Fprintf(&b, " %s=%s:%s", resourceName(l.Resource), formatLimit(l.Cur), formatLimit(l.Max))
	}
	return b.String()
}

// Parse reads what String wrote.
func Parse(s string) (Attrs, error) {
	var a Attrs
	for _, f := range strings.Fields(s) {
		name, value, _ := strings.Cut(f, "=")
		if name == "umask" {
			m, err := strconv.ParseUint(value, 8, 32)
			if err != nil || m > 0o777 {
				return a, fmt.Errorf("bad umask %q", value)
			}
			a.Umask = uint32(m)
			continue
		}
		res, ok := resourceNamed(name)
		cs, ms, _ := strings.Cut(value, ":")
		cur, err1 := parseLimit(cs)
		max, err2 := parseLimit(ms)
		if !ok || err1 != nil || err2 != nil {
			return a, fmt.Errorf("bad limit %q", f)
		}
		a.Limits = append(a.Limits, Limit{res, cur, max})
	}
	return a, nil
}

func formatLimit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

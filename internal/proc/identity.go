// Package proc owns everything daemonctl knows about live processes:
// launching one detached in its own session, naming it by an identity that
// survives pid reuse (pid + start time + boot id), finding every process of
// the tree it started, signalling them through pidfds, and waiting for them
// to be gone.
package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Identity names one process for as long as the machine is up: a pid alone
// is reused, but a pid with its start time (clock ticks since boot, field
// 22 of proc(5)'s /proc/PID/stat) and the boot id is not.
type Identity struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
	BootID     string `json:"boot_id"`
}

// Info is what daemonctl reads about a process from /proc/PID/stat.
type Info struct {
	Identity
	PPID   int
	PGID   int
	Zombie bool
	// State is the state letter of proc(5): R running, S sleeping, D in
	// uninterruptible sleep, T stopped, Z zombie, ...
	State byte
}

// StateName says what State means, for messages.
func (i Info) StateName() string {
	switch i.State {
	case 'R':
		return "running"
	case 'S':
		return "sleeping"
	case 'D':
		return "in uninterruptible sleep (D)"
	case 'T':
		return "stopped (SIGSTOP)"
	case 't':
		return "stopped by a debugger"
	case 'Z', 'X':
		return "a zombie"
	}
	return "in state " + string(i.State)
}

var (
	bootOnce sync.Once
	bootID   string
	bootErr  error
)

// BootID returns the kernel's boot id (random(4): /proc/sys/kernel/random/boot_id).
func BootID() (string, error) {
	bootOnce.Do(func() {
		var buf [64]byte // a UUID and a newline
		b, err := readProcFile("/proc/sys/kernel/random/boot_id", buf[:])
		if err != nil {
			bootErr = fmt.Errorf("read boot id: %w", err)
			return
		}
		bootID = strings.TrimSpace(string(b))
	})
	return bootID, bootErr
}

// ErrGone means the process does not exist (any more).
var ErrGone = errors.New("no such process")

// Inspect reads the process's stat line. A process that does not exist
// returns ErrGone; a zombie is reported with Zombie set.
func Inspect(pid int) (Info, error) {
	boot, err := BootID()
	if err != nil {
		return Info{}, err
	}
	ppid, pgid, state, start, err := readStat(pid)
	if err != nil {
		return Info{}, err
	}
	return Info{
		Identity: Identity{PID: pid, StartTicks: start, BootID: boot},
		PPID:     ppid,
		PGID:     pgid,
		Zombie:   state == 'Z' || state == 'X',
		State:    state,
	}, nil
}

// Alive reports whether the process named by id still runs: same boot,
// same start time, and not a zombie.
func (id Identity) Alive() bool {
	if id.PID <= 0 {
		return false
	}
	info, err := Inspect(id.PID)
	return err == nil && !info.Zombie && info.Identity == id
}

// StartTime converts the identity's start ticks to wall-clock time.
func (id Identity) StartTime() time.Time {
	return bootTime().Add(time.Duration(id.StartTicks) * time.Second / clockTicks)
}

// clockTicks is sysconf(_SC_CLK_TCK); it is 100 on every Linux ABI Go
// supports (the kernel's USER_HZ).
const clockTicks = 100

// bootTime is the boot time, read once and only when asked for: the
// kernel writes all of /proc/stat to answer, which a status of one
// service would otherwise pay for nothing.
var bootTime = sync.OnceValue(readBootTime)

// readBootTime reads the "btime" line of /proc/stat: the boot time in
// seconds since the epoch (proc(5)).
func readBootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			secs, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(secs, 0)
		}
	}
	return time.Time{}
}

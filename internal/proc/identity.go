// Package proc owns everything daemonctl knows about live processes:
// launching one detached in its own session, naming it by an identity that
// survives pid reuse (pid + start time + boot id), finding every process of
// the tree it started, signalling them through pidfds, and waiting for them
// to be gone.
package proc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
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
}

var (
	fsOnce sync.Once
	fs     procfs.FS
	fsErr  error

	bootOnce sync.Once
	bootID   string
	bootErr  error
	bootTime time.Time
)

func procFS() (procfs.FS, error) {
	fsOnce.Do(func() { fs, fsErr = procfs.NewDefaultFS() })
	return fs, fsErr
}

// BootID returns the kernel's boot id (random(4): /proc/sys/kernel/random/boot_id).
func BootID() (string, error) {
	bootOnce.Do(func() {
		b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err != nil {
			bootErr = fmt.Errorf("read boot id: %w", err)
			return
		}
		bootID = strings.TrimSpace(string(b))
		if f, err := procFS(); err == nil {
			if st, err := f.Stat(); err == nil {
				bootTime = time.Unix(int64(st.BootTime), 0)
			}
		}
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
	f, err := procFS()
	if err != nil {
		return Info{}, err
	}
	p, err := f.Proc(pid)
	if err != nil {
		return Info{}, ErrGone
	}
	st, err := p.Stat()
	if err != nil {
		return Info{}, ErrGone
	}
	return Info{
		Identity: Identity{PID: pid, StartTicks: st.Starttime, BootID: boot},
		PPID:     st.PPID,
		PGID:     st.PGRP,
		Zombie:   st.State == "Z" || st.State == "X",
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
	BootID()
	return bootTime.Add(time.Duration(id.StartTicks) * time.Second / clockTicks)
}

// clockTicks is sysconf(_SC_CLK_TCK); it is 100 on every Linux ABI Go
// supports (the kernel's USER_HZ).
const clockTicks = 100

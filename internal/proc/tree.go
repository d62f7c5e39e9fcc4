package proc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// TokenVar is the environment variable that marks every process of one
// service instance, like systemd's INVOCATION_ID. Children inherit it, so
// a process that left the process group (setsid, a double fork) is still
// found.
const TokenVar = "DAEMONCTL_INVOCATION_ID"

// NewToken returns a random token: an instance's TokenVar, or a request's
// claim on a service's record.
func NewToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// A Tree is the set of processes one service instance consists of: the
// leader daemonctl launched in a new session, everything in its process
// group while the leader lives, and every younger process that carries the
// instance's token in its environment.
type Tree struct {
	Leader Identity
	Token  string
	// Descendants counts the leader and every process descended from it
	// (by parent pid) too: for a server another tool started, whose
	// processes carry no token and whose process group is not its own.
	Descendants bool
}

// Members returns the live processes of the tree. A process is only ever
// counted if it started no earlier than the leader, so an unrelated
// process that inherited a reused pid or process group id is never one.
func (t Tree) Members() ([]Identity, error) {
	table, err := scans.fresh()
	if err != nil {
		return nil, err
	}
	leaderAlive := t.Leader.Alive()
	var descends func(e *entry) bool
	if t.Descendants {
		descends = descendsFrom(table, t.Leader)
	}
	var out []Identity
	for _, e := range table {
		if e.StartTicks < t.Leader.StartTicks || e.BootID != t.Leader.BootID {
			continue
		}
		inGroup := leaderAlive && e.PGID == t.Leader.PID
		if inGroup || (t.Token != "" && e.instanceToken() == t.Token) || (descends != nil && descends(e)) {
			out = append(out, e.Identity)
		}
	}
	return out, nil
}

// descendsFrom returns a test of whether a process of table is leader or
// one of its descendants.
func descendsFrom(table []*entry, leader Identity) func(*entry) bool {
	byPID := make(map[int]*entry, len(table))
	for _, e := range table {
		byPID[e.PID] = e
	}
	return func(e *entry) bool {
		for depth := 0; e != nil && depth < 64; depth++ {
			if e.Identity == leader {
				return true
			}
			if e.StartTicks < leader.StartTicks {
				return false // older than the leader: not below it
			}
			e = byPID[e.PPID]
		}
		return false
	}
}

// StopResult says how a tree ended.
type StopResult struct {
	Signalled int  // processes that got the stop signal
	Killed    bool // the grace period ran out and SIGKILL was sent
}

// KillWait is how long a tree gets to vanish after SIGKILL before Stop
// reports it unkillable: processes in the kernel's uninterruptible sleep
// (a hung disk or NFS mount) ignore even SIGKILL until it ends.
const KillWait = 5 * time.Second

// ErrUnkillable is returned when processes outlive SIGKILL (stuck in the
// kernel, for instance in uninterruptible disk sleep).
type ErrUnkillable struct{ PIDs []int }

func (e *ErrUnkillable) Error() string {
	return fmt.Sprintf("processes %v still alive after SIGKILL", e.PIDs)
}

// Stop sends sig to every process of the tree and returns as soon as all
// are gone. Processes that remain after grace get SIGKILL; if any outlive
// that by killWait, Stop returns *ErrUnkillable.
func (t Tree) Stop(ctx context.Context, sig unix.Signal, grace, killWait time.Duration) (StopResult, error) {
	var res StopResult
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	n, err := t.signalUntilGone(graceCtx, sig)
	res.Signalled = n
	if err == nil || ctx.Err() != nil {
		return res, err
	}
	res.Killed = true
	killCtx, cancelKill := context.WithTimeout(ctx, killWait)
	defer cancelKill()
	if _, err := t.signalUntilGone(killCtx, unix.SIGKILL); err != nil {
		left, _ := t.Members()
		pids := make([]int, len(left))
		for i, id := range left {
			pids[i] = id.PID
		}
		if len(pids) == 0 {
			return res, nil
		}
		return res, &ErrUnkillable{PIDs: pids}
	}
	return res, nil
}

// signalUntilGone signals each member once, waits for all of them, and
// looks again for members that appeared meanwhile (forked late), until
// none is left or ctx ends.
func (t Tree) signalUntilGone(ctx context.Context, sig unix.Signal) (int, error) {
	signalled := map[Identity]bool{}
	for {
		since := newProcessesSince()
		members, err := t.Members()
		if err != nil {
			return len(signalled), err
		}
		if len(members) == 0 {
			return len(signalled), nil
		}
		var handles []*Handle
		for _, id := range members {
			h, err := Open(id)
			if err != nil {
				continue // gone already
			}
			defer h.Close()
			if !signalled[id] {
				if err := h.Signal(sig); err != nil {
					return len(signalled), fmt.Errorf("signal %s to pid %d: %w", unix.SignalName(sig), id.PID, err)
				}
				signalled[id] = true
			}
			handles = append(handles, h)
		}
		if err := WaitAll(ctx, handles); err != nil {
			return len(signalled), err
		}
		// Every member the scan saw is gone; a member forked meanwhile
		// would have made a new process, and if no process at all was
		// made since before the scan, there is none to look for.
		if !since() {
			return len(signalled), nil
		}
	}
}

// newProcessesSince reads the pid namespace's last pid and returns a
// test of whether any process (or thread) may have been made since: the
// last pid moved, or it cannot be read, or so long has passed that the
// pid counter could have gone all the way round.
func newProcessesSince() func() bool {
	began := time.Now()
	before, err := lastPID()
	return func() bool {
		after, err2 := lastPID()
		return err != nil || err2 != nil || after != before || time.Since(began) > time.Second
	}
}

// lastPID is the last pid handed out in this pid namespace.
func lastPID() (int, error) {
	var buf [24]byte
	b, err := readProcFile("/proc/sys/kernel/ns_last_pid", buf[:])
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(bytes.TrimSpace(b)))
}

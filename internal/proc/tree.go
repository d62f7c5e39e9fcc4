package proc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
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
	// Born is the pid count just before the leader was made; zero when
	// unknown.
	Born PIDCount
}

// Members returns the live processes of the tree. A process is only ever
// counted if it started no earlier than the leader, so an unrelated
// process that inherited a reused pid or process group id is never one.
func (t Tree) Members() ([]Identity, error) {
	return t.members(t.Leader.Alive())
}

// members is Members with the leader's liveness, which decides whether
// its process group counts, given.
func (t Tree) members(leaderAlive bool) ([]Identity, error) {
	table, err := scans.fresh(t.lowestPID())
	if err != nil {
		return nil, err
	}
	return t.membersIn(table, leaderAlive), nil
}

// membersIn returns the members of the tree among the processes of
// table.
func (t Tree) membersIn(table []*entry, leaderAlive bool) []Identity {
	var descends func(e *entry) bool
	if t.Descendants {
		descends = descendsFrom(table, t.Leader)
	}
	var out []Identity
	for _, e := range table {
		if t.has(e, leaderAlive, descends) {
			out = append(out, e.Identity)
		}
	}
	return out
}

// lowestPID is the lowest pid a member of the tree can have: the
// leader's, while the pid count has not gone round since it was made
// (NoWrapSince), for every other member was made after it; else 0. A
// stop then reads the processes made after the leader instead of every
// process on the host.
func (t Tree) lowestPID() int {
	if ok, _ := NoWrapSince(t.Born, t.Leader.PID); ok {
		return t.Leader.PID
	}
	return 0
}

// has reports whether process e is a member of the tree: as old as the
// leader or younger, and in its process group while it lives, or
// carrying its token, or (with Descendants) below it.
func (t Tree) has(e *entry, leaderAlive bool, descends func(*entry) bool) bool {
	if e.StartTicks < t.Leader.StartTicks || e.BootID != t.Leader.BootID {
		return false
	}
	inGroup := leaderAlive && e.PGID == t.Leader.PID
	return inGroup || (t.Token != "" && e.instanceToken() == t.Token) || (descends != nil && descends(e))
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
	return t.StopAfter(ctx, nil, sig, grace, killWait)
}

// StopAfter is Stop with a look at the processes begun ahead of it
// (BeginLook), which it uses for its first signals; nil for none.
func (t Tree) StopAfter(ctx context.Context, ahead *Look, sig unix.Signal, grace, killWait time.Duration) (StopResult, error) {
	var res StopResult
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	n, err := t.signalUntilGone(graceCtx, sig, ahead.take())
	res.Signalled = n
	if err == nil || ctx.Err() != nil {
		return res, err
	}
	res.Killed = true
	killCtx, cancelKill := context.WithTimeout(ctx, killWait)
	defer cancelKill()
	if _, err := t.signalUntilGone(killCtx, unix.SIGKILL, nil); err != nil {
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
// none is left or ctx ends. The first members come from ahead when it is
// not nil.
func (t Tree) signalUntilGone(ctx context.Context, sig unix.Signal, ahead *Look) (int, error) {
	signalled := map[Identity]bool{}
	// The leader is told first, before the scan for the rest of its
	// tree: its shutdown (a JVM behind start.sh takes tens of ms) then
	// overlaps the scan instead of following it. Its process group
	// counts in that scan as the live group it was when it was told,
	// unless its pid was handed out again meanwhile. Not when members
	// are known by descent: the leader's death would orphan them.
	window := openWindow()
	if ahead != nil {
		window = ahead.window
	}
	leader, err := Open(t.Leader)
	groupAlive := err == nil // Open checks that the leader lives
	switch {
	case err == nil:
		defer leader.Close()
		if !t.Descendants {
			if err := leader.Signal(sig); err != nil {
				return 0, fmt.Errorf("signal %s to pid %d: %w", unix.SignalName(sig), t.Leader.PID, err)
			}
			signalled[t.Leader] = true
			groupAlive = !window.handedOut(t.Leader.PID)
		}
	case !errors.Is(err, ErrGone):
		groupAlive = t.Leader.Alive() // no pidfd to be had: ask /proc
	}
	for {
		members, err := t.nextMembers(ahead, groupAlive)
		ahead = nil
		if err != nil {
			return len(signalled), err
		}
		if len(members) == 0 {
			return len(signalled), nil
		}
		var handles []*Handle
		for _, id := range members {
			h, err := t.open(id, leader)
			if err != nil {
				continue // gone already
			}
			if h != leader {
				defer h.Close()
			}
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
		// Every member the scan saw is gone. A member forked meanwhile
		// has a pid handed out since the scan began: look at those
		// alone, unless they cannot be told.
		if !t.madeMembersIn(window) {
			return len(signalled), nil
		}
		window = openWindow()
		groupAlive = t.Leader.Alive()
	}
}

// open returns a handle on member id: the leader's, already open, or a
// new one.
func (t Tree) open(id Identity, leader *Handle) (*Handle, error) {
	if leader != nil && id == t.Leader {
		return leader, nil
	}
	return Open(id)
}

// nextMembers returns the members in ahead's table when there is one,
// else in a fresh scan.
func (t Tree) nextMembers(ahead *Look, leaderAlive bool) ([]Identity, error) {
	if ahead == nil {
		return t.members(leaderAlive)
	}
	<-ahead.done
	if ahead.err != nil {
		return t.members(leaderAlive)
	}
	return t.membersIn(ahead.table, leaderAlive), nil
}

// A Look is a scan of the processes begun ahead of a stop (BeginLook),
// so that its reading overlaps what the stop does before its first
// signal (recording that its exit was asked for) instead of following
// it.
//
// It is as good as a scan begun at the first signal: every process made
// since the look began has a pid in the window opened before it, which
// the stop looks at after the members it found are gone (madeMembersIn),
// as it does after any scan.
type Look struct {
	window pidWindow
	done   chan struct{}
	table  []*entry
	err    error
	taken  atomic.Bool
}

// BeginLook begins a scan of the processes that may be members of the
// tree, for its stop (StopAfter). Looks begun together share a scan.
func (t Tree) BeginLook() *Look {
	l := &Look{window: openWindow(), done: make(chan struct{})}
	go func() {
		l.table, l.err = scans.fresh(t.lowestPID())
		close(l.done)
	}()
	return l
}

// take returns l to the first caller, nil to every later one and for a
// nil l: a look is as good as a fresh scan for one stop, right after it
// began; later stops scan afresh.
func (l *Look) take() *Look {
	if l == nil || !l.taken.CompareAndSwap(false, true) {
		return nil
	}
	return l
}

// pidWindow spans the pids handed out in this pid namespace from its
// opening on: Linux hands them out in turn (wrapping at pid_max), so
// every process made since has a pid in (from, the last pid now].
type pidWindow struct {
	from  int
	began time.Time
	err   error
}

func openWindow() pidWindow {
	from, err := lastPID()
	return pidWindow{from: from, began: time.Now(), err: err}
}

// last returns the last pid handed out, and false when the pids handed
// out since w opened cannot be told: a pid unreadable, or so long passed
// that the counter could have gone all the way round.
func (w pidWindow) last() (int, bool) {
	last, err := lastPID()
	return last, w.err == nil && err == nil && time.Since(w.began) <= time.Second
}

// handedOut reports whether pid may have been handed out since w
// opened.
func (w pidWindow) handedOut(pid int) bool {
	last, ok := w.last()
	switch {
	case !ok:
		return true
	case last >= w.from:
		return pid > w.from && pid <= last
	}
	return pid > w.from || pid <= last // wrapped at pid_max
}

// maxWindow bounds the pids looked at one by one; past it a scan of
// /proc is cheaper.
const maxWindow = 256

// madeMembersIn reports whether a process of the tree may have been
// made in window: it looks at each pid handed out since, most of them
// threads of this or other programs, instead of scanning every process.
// When the pids cannot be told (the last pid unreadable, wrapped, or too
// long passed for it not to have gone round) or membership needs the
// whole process table (Descendants), any pid handed out counts.
func (t Tree) madeMembersIn(w pidWindow) bool {
	last, ok := w.last()
	switch {
	case !ok:
		return true
	case last == w.from:
		return false
	case last < w.from || last-w.from > maxWindow || t.Descendants:
		return true
	}
	leaderAlive := t.Leader.Alive()
	self := os.Getpid()
	for pid := w.from + 1; pid <= last; pid++ {
		if pid == self || ownThread(self, pid) {
			continue
		}
		// A thread's id reads as its own entry, and it carries its
		// process's environment; a thread of a member is gone with it.
		info, err := Inspect(pid)
		if err == nil && !info.Zombie && t.has(&entry{Info: info}, leaderAlive, nil) {
			return true
		}
	}
	return false
}

// ownThread reports whether tid is a thread of this process, the
// process whose id is self: its threads take ids from the same count as
// processes, and each would otherwise cost reading its stat and its
// environment.
func ownThread(self, tid int) bool {
	return unix.Tgkill(self, tid, 0) == nil
}

// lastPID is the last pid handed out in this pid namespace.
func lastPID() (int, error) {
	n, err := readProcNumber("/proc/sys/kernel/ns_last_pid")
	return int(n), err
}

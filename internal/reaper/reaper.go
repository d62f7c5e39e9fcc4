// Package reaper owns the children of a supervising process: it reaps
// every one of them (the process is a child subreaper, so that includes
// whatever its services orphan), hands the exits of the children it
// launched to whoever subscribed, and runs helper commands (probes, hooks)
// so that their exits are never taken from their own Wait.
//
// A plain wait4(-1) loop steals exits: os/exec's Wait then fails with
// "no child processes". Like containerd's reaper, children are subscribed
// before they exist (Launch holds the reaper while it starts one), and
// exits are only taken from processes that are this reaper's to take:
//   - a child launched through Launch: reaped, its exit delivered;
//   - a command run through Run: left to its own Wait;
//   - any other child in this process's own process group: left alone,
//     since it can only be a plain os/exec child of some other code here,
//     whose Wait will collect it;
//   - anything else (an orphan of a service tree or of a helper, all of
//     which run in process groups of their own): reaped and forgotten.
package reaper

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// Reaper reaps the children of this process.
type Reaper struct {
	mu        sync.Mutex
	launched  map[int]chan proc.ExitStatus // exits to deliver
	waitedFor map[int]bool                 // children whose own Wait collects them
	kick      chan struct{}
}

var (
	startOnce sync.Once
	started   *Reaper
	startErr  error
	current   atomic.Pointer[Reaper]
)

// Current returns this process's reaper, nil if it has none (a command,
// as opposed to a supervisor): what Run needs to run a helper here.
func Current() *Reaper { return current.Load() }

// Start makes this process a child subreaper (prctl(2)
// PR_SET_CHILD_SUBREAPER) and starts reaping in the background. A process
// has one set of children, so it has one reaper: every call returns the
// same one (two would reap each other's children).
func Start() (*Reaper, error) {
	startOnce.Do(func() {
		if startErr = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); startErr != nil {
			return
		}
		started = &Reaper{launched: map[int]chan proc.ExitStatus{}, waitedFor: map[int]bool{}, kick: make(chan struct{}, 1)}
		sigchld := make(chan os.Signal, 1)
		signal.Notify(sigchld, unix.SIGCHLD)
		go started.loop(sigchld)
		current.Store(started)
	})
	return started, startErr
}

func (r *Reaper) loop(sigchld <-chan os.Signal) {
	// In case a SIGCHLD was coalesced away, or a zombie waiting for its
	// own Wait hid others behind it: look again soon.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	for {
		select {
		case <-sigchld:
		case <-r.kick:
		case <-tick.C:
		case <-retry.C:
		}
		if r.reapAll() {
			retry.Reset(2 * time.Millisecond)
		}
	}
}

// reapAll reaps every child that is the reaper's to reap. It reports
// whether it had to stop at a zombie that is not, which hides the rest
// from waitid(P_ALL) until its own Wait collects it.
func (r *Reaper) reapAll() (blocked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var info unix.Siginfo
		// WNOWAIT: look without reaping, to decide whose it is.
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		pid := siginfoPID(&info)
		if err != nil || pid == 0 {
			return false
		}
		if !r.mine(pid) {
			r.reapKnown()
			return true
		}
		r.reap(pid)
	}
}

// mine reports whether the exited child pid is the reaper's to reap.
func (r *Reaper) mine(pid int) bool {
	if _, ok := r.launched[pid]; ok {
		return true
	}
	if r.waitedFor[pid] {
		return false
	}
	pgid, err := zombiePgid(pid)
	return err != nil || pgid != unix.Getpgrp()
}

// reapKnown reaps, one by one, the launched children and orphans behind a
// zombie that the reaper must leave alone.
func (r *Reaper) reapKnown() {
	for pid := range r.launched {
		r.reapIfExited(pid)
	}
	for _, pid := range children() {
		if _, ok := r.launched[pid]; !ok && r.mine(pid) {
			r.reapIfExited(pid)
		}
	}
}

func (r *Reaper) reapIfExited(pid int) {
	var info unix.Siginfo
	if unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil) == nil && siginfoPID(&info) == pid {
		r.reap(pid)
	}
}

// reap collects pid, which has exited, and delivers its exit to its
// subscriber, if any.
func (r *Reaper) reap(pid int) {
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	if err != nil || got != pid {
		return
	}
	if ch, ok := r.launched[pid]; ok {
		ch <- proc.WaitStatus(ws)
		delete(r.launched, pid)
	}
}

// Launch runs start, which starts one child and returns its pid, while
// reaping is held off, and subscribes to that child's exit: however soon
// it exits, its exit is delivered on the channel.
func (r *Reaper) Launch(start func() (pid int, err error)) (<-chan proc.ExitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := start()
	if err != nil {
		return nil, err
	}
	ch := make(chan proc.ExitStatus, 1)
	r.launched[pid] = ch
	return ch, nil
}

// leaveTo starts a child with start while reaping is held off, and marks
// it as collected by its own Wait; done ends that.
func (r *Reaper) leaveTo(start func() (int, error)) (done func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := start()
	if err != nil {
		return nil, err
	}
	r.waitedFor[pid] = true
	return func() {
		r.mu.Lock()
		delete(r.waitedFor, pid)
		r.mu.Unlock()
		r.poke()
	}, nil
}

func (r *Reaper) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// siPIDOffset is where si_pid sits in a siginfo_t filled by waitid(2):
// after si_signo, si_errno and si_code, with the union that holds it
// aligned to a pointer (sigaction(2), <bits/types/siginfo_t.h>).
const siPIDOffset = 12 + 4*(unsafe.Sizeof(uintptr(0))/8)

// siginfoPID reads si_pid from info; 0 when waitid found no child.
func siginfoPID(info *unix.Siginfo) int {
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), siPIDOffset)))
}

// zombiePgid reads the process group of pid from /proc/PID/stat (field
// 5), which a zombie still has until it is reaped (proc(5)).
func zombiePgid(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 3 {
		return 0, os.ErrInvalid
	}
	return strconv.Atoi(fields[2])
}

// children lists this process's children, from every thread's
// /proc/self/task/TID/children (proc(5)): a child belongs to the thread
// that forked it, or that it was reparented to.
func children() []int {
	var out []int
	files, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(field); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

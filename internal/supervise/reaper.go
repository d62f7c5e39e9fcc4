package supervise

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// reaper waits for every child of the monitor: the services it launches
// and, since the monitor is a child subreaper, every process they orphan.
// The exits of the services are handed to whoever watches them; the rest
// are only reaped, so no zombie is left behind.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan proc.ExitStatus
}

func startReaper() *reaper {
	r := &reaper{waiters: map[int]chan proc.ExitStatus{}}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, unix.SIGCHLD)
	go func() {
		tick := time.NewTicker(time.Second) // in case a SIGCHLD was coalesced away
		defer tick.Stop()
		for {
			select {
			case <-sigchld:
			case <-tick.C:
			}
			r.reapAll()
		}
	}()
	return r
}

func (r *reaper) reapAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		if ch, ok := r.waiters[pid]; ok {
			ch <- proc.WaitStatus(ws)
			delete(r.waiters, pid)
		}
	}
}

// hold stops reaping until release, so that a child launched meanwhile is
// watched before it can be reaped.
func (r *reaper) hold()    { r.mu.Lock() }
func (r *reaper) release() { r.mu.Unlock() }

// watch returns a channel that receives pid's exit. Call it between hold
// and release.
func (r *reaper) watch(pid int) <-chan proc.ExitStatus {
	ch := make(chan proc.ExitStatus, 1)
	r.waiters[pid] = ch
	return ch
}

func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

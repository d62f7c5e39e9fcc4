package supervise

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/logs"
)

// pipeSize is asked of the kernel for the service's output pipe, so a
// burst of output does not block the service while the log is written.
const pipeSize = 1 << 20

// sink is the service's log as the monitor writes it: the service's own
// output and daemonctl's notes, one writer at a time.
type sink struct {
	mu  sync.Mutex
	log *logs.Rotator
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

// notef writes a line of daemonctl's own into the log.
func (s *sink) notef(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Flush()
	fmt.Fprintf(s.log, "daemonctl: "+format+"\n", args...)
}

func (s *sink) flushPending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log.Pending() {
		s.log.Flush()
	}
}

func (s *sink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Close()
}

// newPipe returns the pipe the service writes its output to.
func newPipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, pipeSize) // best effort: capped by /proc/sys/fs/pipe-max-size
	return r, w, nil
}

// QueueLimit is how much output a monitor holds in memory while the log
// cannot keep up (a slow or stalled disk), on top of the pipe's 1 MiB.
// Past it, reading waits, and the service blocks only once the pipe is
// full too: output is delayed, never dropped.
const QueueLimit = 16 << 20

// pump copies the service's output into the log until every writer of the
// pipe has closed it. Reading and writing are separate, with a queue of up
// to QueueLimit bytes between them, so a slow disk does not slow the
// service down. An unfinished line waiting longer than a moment is written
// as it is, so a prompt without a newline still shows.
func pump(r io.ReadCloser, s *sink) <-chan struct{} {
	done := make(chan struct{})
	q := newQueue(QueueLimit)
	go func() {
		defer q.close()
		defer r.Close()
		for {
			buf := make([]byte, 16<<10)
			n, err := r.Read(buf)
			if n > 0 {
				q.put(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case chunk, ok := <-q.out:
				if !ok {
					s.flushPending()
					return
				}
				s.Write(chunk)
				q.release(len(chunk))
			case <-tick.C:
				s.flushPending()
			}
		}
	}()
	return done
}

// queue passes chunks from the reader to the writer, holding at most
// limit bytes.
type queue struct {
	out   chan []byte
	mu    sync.Mutex
	cond  *sync.Cond
	held  int
	limit int
}

func newQueue(limit int) *queue {
	q := &queue{out: make(chan []byte, 1024), limit: limit}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) put(chunk []byte) {
	q.mu.Lock()
	for q.held > 0 && q.held+len(chunk) > q.limit {
		q.cond.Wait()
	}
	q.held += len(chunk)
	q.mu.Unlock()
	q.out <- chunk
}

func (q *queue) release(n int) {
	q.mu.Lock()
	q.held -= n
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *queue) close() { close(q.out) }

// adoptOutput reopens the read side of the pipe a running service writes
// its stdout to, through /proc/PID/fd/1, so that a new monitor can take
// over from one that died and read what the pipe buffered meanwhile. It
// returns nil if stdout is not a pipe.
func adoptOutput(pid int) *os.File {
	path := fmt.Sprintf("/proc/%d/fd/1", pid)
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	return f
}

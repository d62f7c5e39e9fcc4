package monitor

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// pipeSize is asked of the kernel for the service's output pipe, so a
// burst of output does not block the service while the log is written.
const pipeSize = 1 << 20

// sink is the service's log as the monitor writes it: the service's own
// output and daemonctl's notes, one writer at a time.
type sink struct {
	mu  sync.Mutex
	log Output
	// onTrouble hears when writing the log starts failing (with the
	// error) and when it works again (nil).
	onTrouble func(error)
	dropped   int64
	troubled  error
}

// Write writes to the log. If the log cannot be written (a full disk),
// the output is dropped, counted, and reported; the service is never made
// to wait for, or told of, the log's trouble.
func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.log.Write(p)
	switch {
	case err != nil:
		s.dropped += int64(len(p) - n)
		if s.troubled == nil {
			s.troubled = err
			s.report(err)
		}
	case s.troubled != nil:
		fmt.Fprintf(s.log, "daemonctl: %d bytes of output were lost while the log could not be written: %v\n", s.dropped, s.troubled)
		s.troubled, s.dropped = nil, 0
		s.report(nil)
	}
	return len(p), nil
}

func (s *sink) report(err error) {
	if s.onTrouble != nil {
		go s.onTrouble(err) // it takes the service's lock: never under ours
	}
}

// notef writes a line of daemonctl's own into the log.
func (s *sink) notef(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Flush()
	fmt.Fprintf(s.log, "daemonctl: "+format+"\n", args...)
}

// partialLineWait is how long an unfinished line is held back before it
// is written as it is (a prompt without a newline). A line still being
// written in a burst is completed long before.
const partialLineWait = 200 * time.Millisecond

func (s *sink) flushPending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log.PendingFor() >= partialLineWait {
		s.log.Flush()
	}
}

func (s *sink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Close()
}

// newPipe returns the pipe the service writes its output to: r for the
// monitor, rw for the service's stdout and stderr. rw is the pipe opened
// again, read-write, through /proc/self/fd (Linux opens a pipe so, see
// pipe(7) and proc(5)): the service's own stdout counts as a reader, so
// the pipe never loses its last reader while the service can still write
// to it, even when its supervisor is killed and the service has closed
// every other descriptor it inherited. Its writes then fill the pipe and
// wait for the next supervisor; they never fail with EPIPE.
func newPipe() (r, rw *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer w.Close()
	unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, pipeSize) // best effort: capped by /proc/sys/fs/pipe-max-size
	// Opened by a raw open(2), not os.OpenFile: that would put the new
	// file description in non-blocking mode for the runtime's poller, and
	// the service, sharing it, would get EAGAIN instead of waiting on a
	// full pipe.
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", w.Fd()), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		r.Close()
		return nil, nil, fmt.Errorf("output pipe: %w", err)
	}
	return r, os.NewFile(uintptr(fd), "service output"), nil
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
		for {
			chunk, open := q.get(partialLineWait / 2)
			if chunk != nil {
				s.Write(chunk)
				q.release(len(chunk))
			}
			s.flushPending()
			if !open {
				return
			}
		}
	}()
	return done
}

// queue passes chunks from the reader to the writer, holding at most
// limit bytes however small the chunks.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	chunks [][]byte
	held   int
	limit  int
	closed bool
}

func newQueue(limit int) *queue {
	q := &queue{limit: limit}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// put adds a chunk, waiting while the queue is full.
func (q *queue) put(chunk []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.held > 0 && q.held+len(chunk) > q.limit {
		q.cond.Wait()
	}
	q.chunks = append(q.chunks, chunk)
	q.held += len(chunk)
	q.cond.Broadcast()
}

// get takes the oldest chunk, waiting up to wait for one. It returns
// open false once the queue is closed and empty.
func (q *queue) get(wait time.Duration) (chunk []byte, open bool) {
	wake := time.AfterFunc(wait, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer wake.Stop()
	deadline := time.Now().Add(wait)
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.chunks) == 0 && !q.closed && time.Now().Before(deadline) {
		q.cond.Wait()
	}
	if len(q.chunks) == 0 {
		return nil, !q.closed
	}
	chunk, q.chunks = q.chunks[0], q.chunks[1:]
	return chunk, true
}

// release returns n bytes of budget once a chunk is written.
func (q *queue) release(n int) {
	q.mu.Lock()
	q.held -= n
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// takeOverOutput reopens the read side of the pipe a running service
// writes its stdout to, through /proc/PID/fd/1, so that a new monitor can
// take over from one that died and read what the pipe buffered meanwhile.
// It returns nil if stdout is not a pipe.
func takeOverOutput(pid int) *os.File {
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

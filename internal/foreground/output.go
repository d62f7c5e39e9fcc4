package foreground

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/daemonctl/daemonctl/internal/logs"
)

// lines writes the output of several services to one stream (a
// container's stdout) whole lines at a time, each prefixed with its
// service's name when more than one runs, so that no line is split or
// interleaved with another service's. It implements monitor.Output.
type lines struct {
	mu     *sync.Mutex // shared by every service writing to w
	w      io.Writer
	prefix []byte

	partial []byte
	since   time.Time
}

func (l *lines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(l.partial) == 0 {
				l.since = time.Now()
			}
			l.partial = append(l.partial, p...)
			if len(l.partial) >= logs.MaxPartial {
				return n, l.Flush()
			}
			return n, nil
		}
		line := p[:i+1]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = l.partial[:0]
		}
		if err := l.emit(line); err != nil {
			return n, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// emit writes one line, newline included, with the prefix, at once.
func (l *lines) emit(line []byte) error {
	out := make([]byte, 0, len(l.prefix)+len(line))
	out = append(append(out, l.prefix...), line...)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(out)
	return err
}

// Flush writes a held-back unfinished line, ended there: the stream is
// shared, so the rest of it starts a line of its own.
func (l *lines) Flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	err := l.emit(append(l.partial, '\n'))
	l.partial = l.partial[:0]
	return err
}

// PendingFor is how long an unfinished line has been held back.
func (l *lines) PendingFor() time.Duration {
	if len(l.partial) == 0 {
		return 0
	}
	return time.Since(l.since)
}

// Close writes what is held back.
func (l *lines) Close() error { return l.Flush() }

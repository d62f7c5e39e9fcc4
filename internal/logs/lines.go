package logs

import (
	"bytes"
	"time"
)

// Lines cuts a stream of writes into whole lines for emit, holding back
// an unfinished last line (up to MaxPartial bytes) until the rest of it
// comes, or Flush gives it as it is. A Rotator writes its log through one;
// a foreground run writes each service's output to its stdout through
// another.
type Lines struct {
	// emit receives each whole line with its newline, and from Flush
	// (or past MaxPartial) an unfinished one, whole false.
	emit func(seg []byte, whole bool) error
	now  func() time.Time

	partial []byte
	since   time.Time
}

// NewLines returns Lines that hand segments to emit, timing held-back
// lines with now.
func NewLines(emit func(seg []byte, whole bool) error, now func() time.Time) *Lines {
	return &Lines{emit: emit, now: now}
}

// Write emits the complete lines of p and holds back an unfinished last
// line. On an error, it reports how much of p was emitted.
func (l *Lines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(l.partial) == 0 {
				l.since = l.now()
			}
			l.partial = append(l.partial, p...)
			if len(l.partial) >= MaxPartial {
				return n, l.Flush()
			}
			return n, nil
		}
		line := p[:i+1]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = l.partial[:0]
		}
		if err := l.emit(line, true); err != nil {
			return n - len(p), err
		}
		p = p[i+1:]
	}
	return n, nil
}

// PendingFor reports how long an unfinished line has been held back (0
// if none is).
func (l *Lines) PendingFor() time.Duration {
	if len(l.partial) == 0 {
		return 0
	}
	return l.now().Sub(l.since)
}

// Flush emits a held-back unfinished line as it is.
func (l *Lines) Flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	err := l.emit(l.partial, false)
	l.partial = l.partial[:0]
	return err
}

package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/safepath"
)

// Rotator writes a service's output to its log file and rotates it by
// size: past MaxSize, NAME becomes NAME.1, NAME.1 becomes NAME.2, and so on
// up to MaxFiles generations. It rotates only between lines, so every line
// lands whole in exactly one file; a line longer than MaxSize is written
// whole anyway. An unfinished line is held (up to MaxPartial bytes) until
// its newline arrives or Flush is called. With Timestamps, each line starts
// with the time it was read. It is the log's only writer, so nothing
// written is ever lost to a rotation (unlike copy-and-truncate).
type Rotator struct {
	Path       string
	MaxSize    int64 // 0: never rotate
	MaxFiles   int   // generations kept; 0 keeps none
	Timestamps bool
	Now        func() time.Time

	dir         *safepath.Dir // the log's directory, resolved safely
	f           *os.File
	size        int64
	atLineStart bool
	lines       *Lines
	lastCheck   time.Time
	failing     bool
}

// MaxPartial is how much of an unfinished line a Rotator holds back.
const MaxPartial = 64 << 10

// Open opens (appending to) or creates the log at r.Path, its directory
// resolved without following a link another user could have planted
// (package safepath); the directory is made if missing.
func (r *Rotator) Open() error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.lines == nil {
		r.lines = NewLines(func(seg []byte, _ bool) error { return r.writeSegment(seg) }, r.Now)
	}
	dir, f, err := OpenForAppend(r.Path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		dir.Close()
		return err
	}
	r.dir.Close()
	r.dir, r.f, r.size, r.atLineStart = dir, f, fi.Size(), true
	return nil
}

// OpenForAppend opens (creating it and its directory if need be) the log
// at path for appending, and returns its directory with it.
func OpenForAppend(path string) (*safepath.Dir, *os.File, error) {
	dir, err := safepath.OpenDir(filepath.Dir(path), true)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	f, err := dir.OpenFile(filepath.Base(path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		dir.Close()
		if errors.Is(err, unix.ELOOP) {
			return nil, nil, fmt.Errorf("log file %s is a symbolic link: refused", path)
		}
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	return dir, f, nil
}

// Write writes the complete lines of p, rotating before any line that
// would take the file past MaxSize, and holds back an unfinished last line.
func (r *Rotator) Write(p []byte) (int, error) { return r.lines.Write(p) }

// PendingFor reports how long an unfinished line has been held back (0
// if none is).
func (r *Rotator) PendingFor() time.Duration { return r.lines.PendingFor() }

// Flush writes a held-back unfinished line as it is.
func (r *Rotator) Flush() error { return r.lines.Flush() }

func (r *Rotator) writeSegment(seg []byte) error {
	if r.atLineStart {
		var stamp []byte
		if r.Timestamps {
			stamp = r.Now().UTC().AppendFormat(nil, "2006-01-02T15:04:05.000Z07:00 ")
		}
		if r.MaxSize > 0 && r.size > 0 && r.size+int64(len(stamp)+len(seg)) > r.MaxSize {
			if err := r.rotate(); err != nil {
				return err
			}
		}
		if len(stamp) > 0 {
			if err := r.write(stamp); err != nil {
				return err
			}
		}
	}
	r.atLineStart = seg[len(seg)-1] == '\n'
	return r.write(seg)
}

func (r *Rotator) write(b []byte) error {
	if r.failing || r.Now().Sub(r.lastCheck) > time.Second {
		r.reopenIfMoved()
	}
	n, err := r.f.Write(b)
	r.size += int64(n)
	r.failing = err != nil
	return err
}

// reopenIfMoved starts a new file if the one at Path is no longer ours:
// deleted (an operator freeing a full disk) or moved away by another tool.
func (r *Rotator) reopenIfMoved() {
	r.lastCheck = r.Now()
	var cur unix.Stat_t
	err1 := unix.Fstat(int(r.f.Fd()), &cur)
	now, err2 := r.dir.Stat(filepath.Base(r.Path))
	if err1 == nil && err2 == nil && cur.Dev == now.Dev && cur.Ino == now.Ino {
		return
	}
	old := r.f
	if err := r.Open(); err != nil {
		r.f = old
		return
	}
	old.Close()
}

// rotate shifts the generations and starts a new file.
func (r *Rotator) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	base := filepath.Base(r.Path)
	if r.MaxFiles <= 0 {
		r.dir.Remove(base)
	} else {
		r.dir.Remove(Generation(base, r.MaxFiles))
		for i := r.MaxFiles - 1; i >= 1; i-- {
			r.dir.Rename(Generation(base, i), Generation(base, i+1))
		}
		if err := r.dir.Rename(base, Generation(base, 1)); err != nil {
			return fmt.Errorf("rotate %s: %w", r.Path, err)
		}
	}
	return r.Open()
}

// Close flushes an unfinished line and closes the current file.
func (r *Rotator) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.dir.Close()
	return err
}

// Generation is the name of the n-th rotated generation of path.
func Generation(path string, n int) string { return fmt.Sprintf("%s.%d", path, n) }

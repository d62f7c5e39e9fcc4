package logs

import (
	"context"
	"io"
	"os"
	"syscall"
	"time"
)

// Follow copies what is appended to the file at path to w, from offset
// on, until ctx ends. It follows the log across rotations (the file at
// path replaced by a new one, the old one renamed PATH.1, PATH.2, ...):
// having read its file to the end, it finds which generation that file
// became and reads each newer generation in turn, so no line is skipped
// even when several rotations happen between two looks.
func Follow(ctx context.Context, path string, offset int64, w io.Writer) error {
	f, err := Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if next := successor(f, path); next != nil {
			f.Close()
			f = next
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// successor returns the file that comes after f in the log's history,
// opened at its start, or nil if f is still the current log. A log
// truncated in place is rewound.
func successor(f *os.File, path string) *os.File {
	cur, err := f.Stat()
	if err != nil {
		return nil
	}
	if now, err := os.Stat(path); err == nil && sameFile(cur, now) {
		if pos, _ := f.Seek(0, io.SeekCurrent); now.Size() < pos {
			f.Seek(0, io.SeekStart)
		}
		return nil
	}
	// f was rotated: it is now generation n, and n-1 ... 1, then path
	// itself, were written after it.
	for n := 1; ; n++ {
		fi, err := os.Stat(Generation(path, n))
		if err != nil {
			break // f is gone (dropped as too old): go on with the newest
		}
		if sameFile(cur, fi) {
			for k := n - 1; k >= 1; k-- {
				if next, err := Open(Generation(path, k)); err == nil {
					return next
				}
			}
			break
		}
	}
	next, err := Open(path)
	if err != nil {
		return nil // between a rotation's rename and create: look again
	}
	return next
}

func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

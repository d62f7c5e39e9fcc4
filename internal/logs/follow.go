package logs

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"time"
)

// Follow copies what is appended to the file at path to w, from offset
// on, until ctx ends. When the file is replaced (rotated: a new inode at
// path) or truncated, it reads the rest of the old file and goes on from
// the start of the new one, so no line is skipped.
func Follow(ctx context.Context, path string, offset int64, w io.Writer) error {
	f, err := os.Open(path)
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
		if next, ok := replaced(f, path); ok {
			io.Copy(w, f) // whatever was written before the switch
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

// replaced returns the file now at path, opened, if it is no longer f's
// file or f was truncated below its read position.
func replaced(f *os.File, path string) (*os.File, bool) {
	cur, err := f.Stat()
	if err != nil {
		return nil, false
	}
	now, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false // between a rotation's rename and create
	}
	if err != nil {
		return nil, false
	}
	pos, _ := f.Seek(0, io.SeekCurrent)
	if sameFile(cur, now) && now.Size() >= pos {
		return nil, false
	}
	next, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	if sameFile(cur, now) { // truncated in place
		f.Seek(0, io.SeekStart)
		next.Close()
		return nil, false
	}
	return next, true
}

func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

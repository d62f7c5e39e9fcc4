// Package logs owns service log files: reading their last lines, and
// following them as they grow.
package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/safepath"
)

// Tail returns the last n lines of the file at path, reading backwards
// from its end so that a large log costs no more than its tail. A missing
// file has no lines.
func Tail(path string, n int) ([]string, error) {
	f, err := Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	return tailFrom(f, end, n)
}

// Open opens a log for reading. A log lives where its service's user may
// replace it, and root's daemonctl reads it (for a crash record, a failed
// start, `logs`): a symbolic link or anything but a regular file there is
// refused, so that a service cannot have /etc/shadow read out as its log.
func Open(path string) (*os.File, error) {
	dir, err := safepath.OpenDir(filepath.Dir(path), false)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	f, err := dir.OpenFile(filepath.Base(path), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("log %s is a symbolic link: not read", path)
	}
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("log %s is not a regular file: not read", path)
	}
	return f, nil
}

func tailFrom(f io.ReaderAt, end int64, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	const chunk = 8192
	var buf []byte
	pos := end
	for pos > 0 && bytes.Count(bytes.TrimSuffix(buf, []byte("\n")), []byte("\n")) < n {
		size := min(int64(chunk), pos)
		pos -= size
		part := make([]byte, size)
		if _, err := f.ReadAt(part, pos); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		buf = append(part, buf...)
	}
	text := strings.TrimSuffix(string(buf), "\n")
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// Package logs owns service log files: reading their last lines, and
// following them as they grow.
package logs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
)

// Tail returns the last n lines of the file at path, reading backwards
// from its end so that a large log costs no more than its tail. A missing
// file has no lines.
func Tail(path string, n int) ([]string, error) {
	f, err := os.Open(path)
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

package pidfile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPIDFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.pid")
	if _, err := ReadPID(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing pid file: %v", err)
	}
	if err := WritePID(path, 4242); err != nil {
		t.Fatal(err)
	}
	if pid, err := ReadPID(path); pid != 4242 || err != nil {
		t.Fatalf("ReadPID = %d, %v", pid, err)
	}
	// Pid files other tools wrote: a trailing line, spaces.
	os.WriteFile(path, []byte(" 77 \nsomething else\n"), 0o644)
	if pid, err := ReadPID(path); pid != 77 || err != nil {
		t.Fatalf("ReadPID of another tool's file = %d, %v", pid, err)
	}
	for _, bad := range []string{"garbage\n", "-3\n", "0\n"} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := ReadPID(path); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadPID of %q: %v, want ErrCorrupt", bad, err)
		}
	}
	os.WriteFile(path, nil, 0o644)
	if _, err := ReadPID(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an empty pid file (a crash's only leftover) reads as %v, want no file", err)
	}
	WritePID(path, 10)
	RemovePIDIf(path, 11)
	if _, err := os.Stat(path); err != nil {
		t.Fatal("RemovePIDIf removed a pid file naming another pid")
	}
	RemovePIDIf(path, 10)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("RemovePIDIf left the pid file naming its pid")
	}
}

func TestLinksAreNeverFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("precious\n"), 0o600)
	link := filepath.Join(dir, "web.pid")
	os.Symlink(target, link)
	if _, err := ReadPID(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("ReadPID through a link: %v", err)
	}
	if err := WritePID(link, 5); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("WritePID wrote through a link: target now %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink != 0 {
		t.Error("the link is still there: the write did not replace it")
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err == nil {
		if _, err := ReadNoFollow(fifo); err == nil {
			t.Error("ReadNoFollow read a FIFO")
		}
	}
	os.Symlink(target, filepath.Join(dir, "web.lock"))
	if _, err := Acquire(context.Background(), filepath.Join(dir, "web.lock")); err == nil {
		t.Error("a lock through a link was taken")
	}
}

func TestWriteAtomicLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		if err := WriteAtomic(filepath.Join(dir, "rec"), []byte{byte('a' + i)}, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want the record alone", len(entries))
	}
	fi, _ := os.Stat(filepath.Join(dir, "rec"))
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.lock")
	if Held(path) {
		t.Fatal("a lock file that does not exist is held")
	}
	l, err := TryLock(path)
	if err != nil || l == nil {
		t.Fatalf("TryLock = %v, %v", l, err)
	}
	if !Held(path) {
		t.Error("Held says no while held")
	}
	if l2, err := TryLock(path); l2 != nil || err != nil {
		t.Errorf("a second TryLock = %v, %v; want nil, nil", l2, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire of a held lock: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		l3, err := Acquire(context.Background(), path)
		l3.Release()
		got <- err
	}()
	time.Sleep(5 * time.Millisecond)
	l.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not get the lock once it was released")
	}
	if Held(path) {
		t.Error("held after every holder released it")
	}
}

// TestRewriteInPlace: the full-disk fallback overwrites the file that is
// there, within the space it has, and nothing another user could have
// linked there.
func TestRewriteInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.pid")
	if err := WriteAtomic(path, []byte("123456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RewriteInPlace(path, []byte("7\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "7\n" {
		t.Fatalf("content %q, want %q", b, "7\n")
	}
	if err := RewriteInPlace(path, make([]byte, 1<<20)); !NoSpace(err) {
		t.Errorf("1 MiB into a one-block file: %v, want ENOSPC", err)
	}
	if err := os.Link(path, filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	if err := RewriteInPlace(path, []byte("8\n")); err == nil || !strings.Contains(err.Error(), "one link: refused") {
		t.Errorf("a file with two links: %v, want refused", err)
	}
	if err := RewriteInPlace(filepath.Join(dir, "missing"), []byte("8\n")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want not exist", err)
	}
}

// ReadNoFollow reads a file whole, past its first buffer, and no more
// than maxRead of it.
func TestReadNoFollowSizes(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 70000, maxRead, maxRead + 4096} {
		path := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte("x"), size)
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadNoFollow(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != min(size, maxRead) {
			t.Errorf("a file of %d bytes read as %d", size, len(got))
		}
	}
	if _, err := ReadNoFollow(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "open ") {
		t.Errorf("a missing file: %v", err)
	}
}

// A write whose rename fails leaves no temporary file behind either.
func TestAFailedAtomicWriteLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken")
	os.MkdirAll(filepath.Join(taken, "in"), 0o755) // a file cannot be renamed over it
	if err := WriteAtomic(taken, []byte("{}\n"), 0o644); err == nil {
		t.Fatal("a file renamed over a directory")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want the directory alone", len(entries))
	}
}

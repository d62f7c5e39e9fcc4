// Package pidfile owns the files daemonctl writes beside running
// services: pid files (the format other tools read), atomic writes and
// link-refusing reads for any record, and the flock(2) locks that
// serialise commands. Every write is atomic (a
// temporary file renamed into place), so a crash at any moment leaves
// either the old content or the new one, except on a full file system,
// where Replace rewrites the file in place rather than fail; no path is
// ever followed through a symbolic link.
package pidfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/safepath"
)

// ErrCorrupt marks a pid or state file whose content cannot be read.
var ErrCorrupt = errors.New("corrupt")

// WriteAtomic replaces path with data: it writes a temporary file in the
// same directory and renames it over path, so a reader or a crashed writer
// sees the old content or the new, never a mix. rename(2) replaces a
// symbolic link at path rather than writing through it.
//
// It does not fsync. The files it writes describe processes, and every
// record carries the boot id, so after a power loss (the only crash fsync
// guards against) they are stale whatever they say; the one artifact such
// a crash can leave, an empty file, is read as no file. Skipping the two
// fsyncs takes about a third off a stop.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomicAs(path, data, perm, -1, -1)
}

// WriteAtomicAs is WriteAtomic for a file owned by uid and gid (-1 keeps
// the writer's): the new file has them before it takes path's place, so
// it is never readable with more rights than asked for.
func WriteAtomicAs(path string, data []byte, perm os.FileMode, uid, gid int) error {
	if err := writeAtomicAs(path, data, perm, uid, gid); err != nil {
		// Name the file written, not the temporary one.
		var pe *os.PathError
		if errors.As(err, &pe) && strings.Contains(pe.Path, ".tmp") {
			err = pe.Err
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeAtomicAs(path string, data []byte, perm os.FileMode, uid, gid int) error {
	dir, err := safepath.OpenDir(filepath.Dir(path), false)
	if err != nil {
		return err
	}
	defer dir.Close()
	base := filepath.Base(path)
	tmpName := fmt.Sprintf(".%s.tmp%d", base, rand.Uint32())
	tmp, err := dir.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			dir.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := dir.Rename(tmpName, base); err != nil {
		return err
	}
	renamed = true
	return nil
}

// NoSpace reports whether err is a write refused for want of space: the
// file system is full (ENOSPC) or the writer's quota is used up (EDQUOT).
func NoSpace(err error) bool { return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) }

// RewriteInPlace overwrites the existing file at path with data, without
// the temporary file WriteAtomic needs: the fallback when the file system
// is full. It needs no new space as long as data fits in the blocks the
// file already has (a record or a pid file fits in its first), and fails
// with ENOSPC when it does not. It is not atomic: a reader can see a mix
// of old and new, so readers of such files retry what does not parse.
func RewriteInPlace(path string, data []byte) error {
	dir, err := safepath.OpenDir(filepath.Dir(path), false)
	if err != nil {
		return err
	}
	defer dir.Close()
	f, err := dir.OpenFile(filepath.Base(path), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 || !safepath.Trusted(st.Uid) {
		// What is overwritten in place must be the file WriteAtomic
		// made, not one another user linked or planted there.
		return fmt.Errorf("%s is not a regular file of ours with one link: refused", path)
	}
	if int64(len(data)) > st.Blocks*512 {
		return fmt.Errorf("rewrite %s in place: %d bytes do not fit in its %d: %w", path, len(data), st.Blocks*512, unix.ENOSPC)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		return err
	}
	return f.Close()
}

// Replace is WriteAtomic, falling back to RewriteInPlace when the file
// system is full; inPlace says it did.
func Replace(path string, data []byte, perm os.FileMode) (inPlace bool, err error) {
	err = WriteAtomic(path, data, perm)
	if !NoSpace(err) {
		return false, err
	}
	switch inPlaceErr := RewriteInPlace(path, data); {
	case errors.Is(inPlaceErr, os.ErrNotExist):
		return false, err // nothing there to overwrite
	case inPlaceErr != nil:
		return false, fmt.Errorf("%w; in place: %v", err, inPlaceErr)
	}
	return true, nil
}

// ReadNoFollow reads a small file, refusing a symbolic link at path.
func ReadNoFollow(path string) ([]byte, error) { return ReadChecked(path, maxRead, nil) }

// ReadChecked is ReadNoFollow for at most limit bytes of a file that
// accept, when not nil, approves by its fstat(2) before it is read: its
// owner, its mode.
func ReadChecked(path string, limit int64, accept func(*unix.Stat_t) error) ([]byte, error) {
	// Raw system calls, not os.OpenFile: an *os.File registers with the
	// runtime's poller (an epoll_ctl that fails for a regular file), and a
	// status of many services reads two such files for each.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link: refused", path)
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file: refused", path)
	}
	if accept != nil {
		if err := accept(&st); err != nil {
			return nil, err
		}
	}
	return readAll(fd, path, min(st.Size+1, limit), limit)
}

// maxRead bounds what is read of a pid file or record.
const maxRead = 1 << 20

// readAll reads fd to its end, at most limit bytes, starting with a
// buffer of size (the file's size, which a writer may change meanwhile).
func readAll(fd int, path string, size, limit int64) ([]byte, error) {
	b := make([]byte, 0, max(size, 512))
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):min(int64(cap(b)), limit)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	return b, nil
}

// ReadTrusted is ReadNoFollow for a file that decides what daemonctl
// signals: one owned by anybody but this user or root is refused.
func ReadTrusted(path string) ([]byte, error) {
	return ReadChecked(path, maxRead, func(st *unix.Stat_t) error {
		if !safepath.Trusted(st.Uid) {
			return fmt.Errorf("%s belongs to uid %d, not to uid %d or root: refused", path, st.Uid, os.Geteuid())
		}
		return nil
	})
}

// WritePID writes pid to the pid file at path; on a full file system, over
// the pid file that is there (Replace).
func WritePID(path string, pid int) error {
	_, err := Replace(path, []byte(strconv.Itoa(pid)+"\n"), 0o644)
	return err
}

// ReadPID reads the pid file at path. A missing or empty file returns an
// error satisfying errors.Is(err, fs.ErrNotExist); garbage returns ErrCorrupt.
func ReadPID(path string) (int, error) {
	b, err := ReadNoFollow(path)
	if err != nil {
		return 0, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return 0, fmt.Errorf("pid file %s is empty: %w", path, os.ErrNotExist)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(bytes.SplitN(b, []byte("\n"), 2)[0])))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: %w: %q", path, ErrCorrupt, truncate(string(b), 40))
	}
	return pid, nil
}

// RemovePIDIf removes the pid file at path only if it still names pid, so
// that a newer instance's pid file is never removed.
func RemovePIDIf(path string, pid int) error {
	got, err := ReadPID(path)
	if err != nil || got != pid {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

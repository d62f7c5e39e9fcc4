// Package safepath opens directories and the files in them without
// following a symbolic link that another user could have planted.
//
// O_NOFOLLOW protects a path's last component only. Root's daemonctl
// writes logs, pid files and env files in directories a service's user
// owns (a DolphinScheduler install is its deploy user's): that user can
// swap a directory on the way for a link to /etc/cron.d, and root would
// create its file there. So a directory is resolved component by
// component, and a symbolic link is followed only where it sits in a
// directory nobody but root or this user may change (as systemd's
// chase() with CHASE_SAFE refuses, and the kernel's protected_symlinks
// does for sticky directories). The files are then opened, renamed and
// removed relative to the directory's descriptor, which stays on the
// directory it was resolved to whatever is renamed later.
package safepath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxLinks bounds the links followed in one resolution, as the kernel's
// ELOOP does (path_resolution(7)).
const maxLinks = 40

// Dir is a directory resolved safely, held open.
type Dir struct {
	fd   int
	Path string
}

// ErrUnsafeLink is a symbolic link on the way that another user may have
// planted.
var ErrUnsafeLink = errors.New("a symbolic link in a directory another user can change")

// OpenDir resolves the directory at path. With create, missing
// directories are made (mode 0755), as os.MkdirAll does.
func OpenDir(path string, create bool) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if fd, ok := openWithoutLinks(abs); ok {
		return &Dir{fd: fd, Path: abs}, nil
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	rest := components(abs)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err := unix.Mkdirat(fd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return nil, fmt.Errorf("%s: mkdir %s: %w", abs, name, err)
			}
			next, err = unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %w", abs, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			unix.Close(fd)
			return nil, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			unix.Close(fd)
			fd = next
			continue
		case unix.S_IFLNK:
		default:
			unix.Close(next)
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %s is not a directory", abs, name)
		}
		unix.Close(next)
		if links++; links > maxLinks {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %w", abs, unix.ELOOP)
		}
		if err := trusted(fd, &st); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %s is %w (%v): refused; point the config at the real path", abs, name, ErrUnsafeLink, err)
		}
		target, err := readlinkat(fd, name)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		rest = append(components(target), rest...)
		if filepath.IsAbs(target) {
			unix.Close(fd)
			if fd, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return nil, err
			}
		}
	}
	return &Dir{fd: fd, Path: abs}, nil
}

// openWithoutLinks opens the directory at abs in one system call when no
// component of it is a symbolic link (openat2 with RESOLVE_NO_SYMLINKS,
// Linux 5.6): the directory the walk below would reach, without its
// three calls a component. Anything else (a link on the way, a missing
// directory, a kernel or seccomp filter without openat2) is left to the
// walk, which follows safe links, makes directories and says what is
// wrong.
func openWithoutLinks(abs string) (int, bool) {
	fd, err := unix.Openat2(unix.AT_FDCWD, abs, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	return fd, err == nil
}

// Trusted reports whether uid may change what daemonctl relies on without
// being a risk to it: root, or the user daemonctl runs as.
func Trusted(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

// trusted says why a link (link) in directory dirfd may not be followed:
// the directory may be changed by a user other than root or us, and the
// link is not root's or ours.
func trusted(dirfd int, link *unix.Stat_t) error {
	var st unix.Stat_t
	if err := unix.Fstat(dirfd, &st); err != nil {
		return err
	}
	switch {
	case !Trusted(st.Uid):
		return fmt.Errorf("the directory belongs to uid %d", st.Uid)
	case st.Mode&0o022 != 0 && !Trusted(link.Uid):
		return fmt.Errorf("others may write the directory, and the link is uid %d's", link.Uid)
	}
	return nil
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// components splits a path into its names, "/" and "." dropped; ".."
// stays, for the kernel to resolve (it is never a link).
func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// OpenFile opens name in d, never through a link.
func (d *Dir) OpenFile(name string, flags int, perm uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(d.Path, name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.Path, name)), nil
}

// Rename renames old to new, both in d.
func (d *Dir) Rename(old, new string) error {
	if err := unix.Renameat(d.fd, old, d.fd, new); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.Path, old), New: filepath.Join(d.Path, new), Err: err}
	}
	return nil
}

// Remove removes the file name from d.
func (d *Dir) Remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: filepath.Join(d.Path, name), Err: err}
	}
	return nil
}

// Stat describes name in d, not following a link.
func (d *Dir) Stat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// Close releases the directory.
func (d *Dir) Close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

package pidfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Store keeps the state records and locks of a config's services in its
// run_dir: NAME.state and NAME.lock.
type Store struct{ Dir string }

// StatePath is where the record of service name lives.
func (s Store) StatePath(name string) string { return filepath.Join(s.Dir, name+".state") }

// Lock takes service name's lock, creating run_dir if needed.
func (s Store) Lock(ctx context.Context, name string) (*Lock, error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run_dir: %w", err)
	}
	if err := CheckDirSafe(s.Dir); err != nil {
		return nil, err
	}
	return Acquire(ctx, filepath.Join(s.Dir, name+".lock"))
}

// CheckDirSafe refuses a directory where another user could plant or
// swap the files daemonctl trusts: one owned by another user (root
// aside), or writable by others without the sticky bit (chmod(1) +t,
// which stops them renaming or deleting files they do not own).
func CheckDirSafe(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("run_dir: %w", err)
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("run_dir %s belongs to uid %d, not to us: refused", dir, st.Uid)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("run_dir %s is writable by other users and not sticky: refused (chmod o-w,g-w or +t)", dir)
	}
	return nil
}

// Read returns service name's record, nil if it has none.
func (s Store) Read(name string) (*State, error) { return ReadState(s.StatePath(name)) }

// Write records st as service name's state.
func (s Store) Write(name string, st *State) error {
	if err := WriteState(s.StatePath(name), st); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// Update re-reads service name's record under its lock and, if match
// accepts it, applies fn and writes it back. It reports whether it wrote.
func (s Store) Update(ctx context.Context, name string, match func(*State) bool, fn func(*State) error) (bool, error) {
	l, err := s.Lock(context.WithoutCancel(ctx), name)
	if err != nil {
		return false, err
	}
	defer l.Release()
	st, err := s.Read(name)
	if err != nil || st == nil || !match(st) {
		return false, err
	}
	if err := fn(st); err != nil {
		return false, err
	}
	return true, s.Write(name, st)
}

// Unlocked reports whether nobody holds service name's lock right now.
func (s Store) Unlocked(name string) bool {
	f, err := os.OpenFile(filepath.Join(s.Dir, name+".lock"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return true
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return true
}

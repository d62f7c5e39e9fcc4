package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/safepath"
)

// Store keeps the records and locks of a config's services in its
// run_dir: NAME.state and NAME.lock.
type Store struct {
	Dir string

	snap *snapshot // set by Snapshot, for one look at many services
}

// RecordPath is where the record of service name lives.
func (s Store) RecordPath(name string) string { return filepath.Join(s.Dir, name+".state") }

// LockPath is service name's lock, held by whoever acts on it.
func (s Store) LockPath(name string) string { return filepath.Join(s.Dir, name+".lock") }

// Lock takes service name's lock, creating run_dir if needed.
func (s Store) Lock(ctx context.Context, name string) (*pidfile.Lock, error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run_dir: %w", err)
	}
	if err := CheckDirSafe(s.Dir); err != nil {
		return nil, err
	}
	return pidfile.Acquire(ctx, s.LockPath(name))
}

// Locked reports whether somebody holds service name's lock right now.
func (s Store) Locked(name string) bool { return pidfile.Held(s.LockPath(name)) }

// CheckDirSafe refuses a directory where another user could plant or
// swap the files daemonctl trusts (records, locks, the supervisor's
// socket): one owned by another user (root aside), or one others may
// create names in, sticky or not: in a sticky /tmp-like directory a user
// still plants a record or a socket under a name nobody has taken yet.
func CheckDirSafe(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("run_dir: %w", err)
	}
	if !safepath.Trusted(st.Uid) {
		return fmt.Errorf("run_dir %s belongs to uid %d, not to us: refused", dir, st.Uid)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("run_dir %s is writable by other users (mode %04o): refused (chmod go-w)", dir, st.Mode&0o7777)
	}
	return nil
}

// CrashPath is where the last crash of service name is kept: apart from
// its record, readable by its owner alone, since it holds log lines.
func (s Store) CrashPath(name string) string { return filepath.Join(s.Dir, name+".crash") }

// Read returns service name's record, nil if it has none, with its last
// crash when this user may read it.
func (s Store) Read(name string) (*Record, error) {
	r, err := ReadRecord(s.RecordPath(name))
	if err != nil || r == nil || r.LastCrash != nil || !s.mayHaveCrash(name) {
		return r, err
	}
	if b, err := pidfile.ReadTrusted(s.CrashPath(name)); err == nil {
		var c Crash
		if json.Unmarshal(b, &c) == nil {
			r.LastCrash = &c
		}
	}
	return r, nil
}

// Write records r as service name's record, and its last crash, if new,
// in a file of mode 0600.
//
// When run_dir is full, the record is rewritten in place (which needs no
// new space) and says since when in RunDirFull, so that supervision, stop
// and status go on; the crash record, which may not fit, is dropped. The
// first write that has space again clears RunDirFull.
func (s Store) Write(name string, r *Record) error {
	if err := s.writeCrash(name, r); pidfile.NoSpace(err) {
		r.crashChanged = false // dropped: it may not fit
	} else if err != nil {
		return err
	}
	inline := *r
	inline.LastCrash, inline.RunDirFull = nil, nil
	err := WriteRecord(s.RecordPath(name), &inline)
	if err == nil {
		r.RunDirFull = nil
		return nil
	}
	if !pidfile.NoSpace(err) {
		return err
	}
	inline.RunDirFull = r.RunDirFull
	if inline.RunDirFull == nil {
		now := time.Now().UTC().Truncate(time.Second)
		inline.RunDirFull = &now
	}
	b, merr := marshalRecord(&inline)
	if merr != nil {
		return merr
	}
	if inPlaceErr := pidfile.RewriteInPlace(s.RecordPath(name), b); inPlaceErr != nil {
		return fmt.Errorf("%w; in place: %v", err, inPlaceErr)
	}
	r.RunDirFull = inline.RunDirFull
	return nil
}

// writeCrash writes r's last crash, if new, to its own file.
func (s Store) writeCrash(name string, r *Record) error {
	if !r.crashChanged || r.LastCrash == nil {
		return nil
	}
	b, err := json.Marshal(r.LastCrash)
	if err != nil {
		return err
	}
	if err := pidfile.WriteAtomic(s.CrashPath(name), b, 0o600); err != nil {
		return err
	}
	r.crashChanged = false
	return nil
}

// Update re-reads service name's record under its lock and, if match
// accepts it, applies fn and writes it back. It reports whether it wrote.
func (s Store) Update(ctx context.Context, name string, match func(*Record) bool, fn func(*Record) error) (bool, error) {
	l, err := s.Lock(context.WithoutCancel(ctx), name)
	if err != nil {
		return false, err
	}
	defer l.Release()
	r, err := s.Read(name)
	if err != nil || r == nil || !match(r) {
		return false, err
	}
	if err := fn(r); err != nil {
		return false, err
	}
	return true, s.Write(name, r)
}

// OwnerFile names, in run_dir, the config whose services the run_dir
// holds: two configs sharing one run_dir would read, start and stop each
// other's services under the same names.
const OwnerFile = "config"

// Claimed reports whether run_dir names the config it belongs to: once a
// start has used it, it does, so a run_dir that does not was never used,
// or was deleted under its services (see Recover).
func (s Store) Claimed() bool {
	_, err := os.Lstat(filepath.Join(s.Dir, OwnerFile))
	return err == nil
}

// RunDirVar is in every service's environment: the run_dir whose records
// name it, so that a running instance is found again (Recover) when its
// record is gone.
const RunDirVar = "DAEMONCTL_RUN_DIR"

// RunDirMark is the RunDirVar=DIR entry of the environment of every
// service of this run_dir, by its real path.
func (s Store) RunDirMark() string {
	dir := s.Dir
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return RunDirVar + "=" + dir
}

// Recover finds, from /proc, the running instance of service name whose
// record is gone (run_dir deleted under it): a process carrying
// DAEMONCTL_SERVICE=name and RunDirVar=this run_dir in its environment.
// It returns the record it would have had, and how many instances run
// (more than one can only be the doing of the deletion).
func (s Store) Recover(name, pidFile, logFile string) (*Record, int) {
	found, err := proc.FindInstances("DAEMONCTL_SERVICE="+name, s.RunDirMark())
	if err != nil || len(found) == 0 {
		return nil, 0
	}
	in := found[0]
	r := &Record{Service: name, Phase: PhaseRunning, Leader: in.Leader, Token: in.Token,
		PidFile: pidFile, LogFile: logFile, StartedAt: in.Leader.StartTime()}
	return r, len(found)
}

// CheckOwner refuses a run_dir that holds the services of a config other
// than configPath (compared by real path, so a config reached through a
// symlinked directory is the same config). With claim, a run_dir that
// names no config yet is claimed for configPath.
func (s Store) CheckOwner(configPath string, claim bool) error {
	real, err := filepath.EvalSymlinks(configPath)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	path := filepath.Join(s.Dir, OwnerFile)
	b, err := pidfile.ReadTrusted(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && claim:
		return pidfile.WriteAtomic(path, []byte(real+"\n"), 0o644)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("run_dir: %w", err)
	}
	if owner := strings.TrimSpace(string(b)); owner != real {
		return fmt.Errorf("run_dir %s holds the services of %s, not of %s: give each config its own run_dir", s.Dir, owner, real)
	}
	return nil
}

// Package configcache keeps each config, parsed and validated, between
// commands: a command that only reads state (status, every few seconds
// from a watch or a probe) then reads one file instead of parsing
// the YAML again, which was a third of its time.
//
// An entry is used only when it is certainly what parsing would give:
// the config file's bytes hash the same, the daemonctl binary is the one
// that wrote it, the host name is the same when the config uses
// ${HOSTNAME}, and the checks that depend on the filesystem rather than
// on the file (config.Config.CheckLogFiles) pass again. Otherwise the config
// is parsed, so every error is the parser's, with its file:line:col. The
// cache holds only what its own user wrote: an entry or directory that
// another user owns or may write is ignored.
package configcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/safepath"
)

// entry is one cached config with what it was made from.
type entry struct {
	Exe    string         `json:"exe"`  // the binary that wrote it (exeID)
	Sum    string         `json:"sum"`  // sha256 of the config file
	Host   string         `json:"host"` // the host name, if the config uses it
	Config *config.Config `json:"config"`
	// Dirs stamps the directories of the services' log files (see
	// stampDirs); nil when they cannot vouch for them.
	Dirs map[string]string `json:"dirs,omitempty"`
}

// Dir is the cache directory in environ: $XDG_CACHE_HOME/daemonctl, else
// $HOME/.cache/daemonctl; "" (no cache) when neither is set.
func Dir(environ []string) string {
	var xdg, home string
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "XDG_CACHE_HOME="); ok {
			xdg = v
		} else if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
	}
	switch {
	case filepath.IsAbs(xdg):
		return filepath.Join(xdg, "daemonctl")
	case filepath.IsAbs(home) && home != "/":
		return filepath.Join(home, ".cache", "daemonctl")
	}
	return ""
}

// Load is config.Load through the cache in dir ("" for none). A config
// parsed afresh is stored for next time; failing to store it is not an
// error.
func Load(path, dir string) (*config.Config, error) {
	src, err := config.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return config.Parse(path, src)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return config.Parse(path, src)
	}
	want := entry{Exe: exeID(), Sum: sum(src)}
	if bytes.Contains(src, []byte(config.HostnameVar)) {
		want.Host, _ = os.Hostname()
	}
	file := filepath.Join(dir, key(abs))
	if c, restamp := lookup(file, want, abs); c != nil {
		if restamp {
			remember(dir, file, want, c)
		}
		return c, nil
	}
	c, err := config.Parse(path, src)
	if err == nil && want.Exe != "" && !remember(dir, file, want, c) {
		return config.Parse(path, src) // changed meanwhile: its error
	}
	return c, err
}

// remember stores c as want's entry, with its log directories stamped
// (stampDirs) before its log_file checks are made again, so that a change
// made meanwhile shows in one or the other. It reports false, storing
// nothing, when a check fails now.
func remember(dir, file string, want entry, c *config.Config) bool {
	want.Config = c
	if want.Dirs = stampDirs(c); want.Dirs != nil && c.CheckLogFiles() != nil {
		return false
	}
	store(dir, file, want)
	return true
}

// stampDirs stamps each directory holding a service's log file with its
// device, inode and ctime. A log_file can only turn into a directory or a
// device by an entry of its directory being removed, made or renamed,
// which sets the directory's ctime (and nobody can set it back), so while
// the stamps hold, the config's log_file checks need not be made again:
// one stat instead of one per service. The log files are checked after
// the stamps are taken, so a change made meanwhile shows in either. A
// log_file that is a symbolic link turns on what its target's directory
// holds, which no stamp covers: then there are none.
func stampDirs(c *config.Config) map[string]string {
	dirs := map[string]string{}
	for _, s := range c.Services {
		var st unix.Stat_t
		if s.LogFile == "" || unix.Lstat(s.LogFile, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return nil
		}
		d := filepath.Dir(s.LogFile)
		if _, ok := dirs[d]; !ok {
			dirs[d] = stamp(d)
		}
	}
	return dirs
}

func stamp(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "absent"
	}
	return fmt.Sprintf("%d:%d:%d.%d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
}

// logFilesHold makes the log_file checks of a cached config again, unless
// the stamps of their directories vouch for them. restamp reports that
// the checks passed where stamps had changed (a service's first start
// makes its log file): stamped again, the entry spares the next command
// the checks.
func logFilesHold(e *entry) (hold, restamp bool) {
	for d, was := range e.Dirs {
		if stamp(d) != was {
			hold = e.Config.CheckLogFiles() == nil
			return hold, hold
		}
	}
	return e.Dirs != nil || e.Config.CheckLogFiles() == nil, false
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// key names the entry of the config at abs.
func key(abs string) string { return sum([]byte(abs))[:32] + ".entry" }

// exeID tells this daemonctl binary from any other: a rebuilt or
// upgraded binary may decode a config differently. "" when it cannot
// tell, and then nothing is cached.
var exeID = func() string {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
}

// lookup returns the config cached in file if it is what parsing the
// config at abs would give now, else nil; and whether the entry's stamps
// are to be taken again (logFilesHold).
func lookup(file string, want entry, abs string) (*config.Config, bool) {
	b, err := readOwn(file)
	if err != nil {
		return nil, false
	}
	got, err := decode(b)
	if err != nil {
		return nil, false
	}
	if got.Exe != want.Exe || got.Sum != want.Sum || got.Host != want.Host || got.Config.Path != abs {
		return nil, false
	}
	hold, restamp := logFilesHold(&got)
	if !hold || got.Config.CompilePatterns() != nil {
		return nil, false
	}
	return got.Config, restamp
}

// maxEntry bounds what is read of an entry: it can be larger than the
// YAML it comes from, which is at most config.MaxSize.
const maxEntry = 16 * config.MaxSize

// readOwn reads file if it and its directory are ours alone: owned by
// this user (or root) and writable by nobody else.
func readOwn(file string) ([]byte, error) {
	if err := checkOwn(filepath.Dir(file), true); err != nil {
		return nil, err
	}
	return pidfile.ReadChecked(file, maxEntry, func(st *unix.Stat_t) error {
		return own(file, st, false)
	})
}

func checkOwn(path string, dir bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	return own(path, &st, dir)
}

func own(path string, st *unix.Stat_t, dir bool) error {
	kind := uint32(unix.S_IFREG)
	if dir {
		kind = unix.S_IFDIR
	}
	switch {
	case st.Mode&unix.S_IFMT != kind:
		return fmt.Errorf("%s: not a regular file or directory as expected", path)
	case !safepath.Trusted(st.Uid):
		return fmt.Errorf("%s belongs to uid %d: ignored", path, st.Uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s is writable by others: ignored", path)
	}
	return nil
}

// store writes e to file, making dir (0700) if need be.
func store(dir, file string, e entry) {
	if err := os.MkdirAll(dir, 0o700); err != nil || checkOwn(dir, true) != nil {
		return
	}
	b, err := encode(e)
	if err != nil {
		return
	}
	pidfile.WriteAtomic(file, b, 0o600)
}

// encode writes e in the cache's format (codec.go).
func encode(e entry) ([]byte, error) {
	return encodeValue([]byte(entryMagic), reflect.ValueOf(&e).Elem())
}

func decode(b []byte) (entry, error) {
	var e entry
	rest, ok := bytes.CutPrefix(b, []byte(entryMagic))
	if !ok {
		return e, errCorrupt
	}
	d := decoder{b: rest}
	if err := d.value(reflect.ValueOf(&e).Elem()); err != nil {
		return e, err
	}
	if len(d.b) != 0 || e.Config == nil {
		return e, errCorrupt
	}
	return e, nil
}

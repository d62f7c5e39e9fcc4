package lifecycle

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// interpreters run the script named by their first argument: `bash
// start.sh` runs start.sh.
var interpreters = []string{"sh", "bash", "dash", "python", "python3", "perl", "ruby"}

// scriptPath is the absolute path that identifies service s's command on
// a process's command line, as another tool would have run it: the
// command itself when it is a path (bin/start.sh), or the script an
// interpreter runs (bash bin/start.sh). A command found through PATH
// (testserver, java) identifies nothing: other services may run it too.
func scriptPath(s *config.Service) string {
	argv := s.Command.Argv
	if s.Command.Shell {
		argv = strings.Fields(strings.TrimPrefix(strings.TrimSpace(argv[2]), "exec "))
	}
	if len(argv) > 1 && slices.Contains(interpreters, filepath.Base(argv[0])) {
		argv = argv[1:]
	}
	if len(argv) == 0 || !strings.Contains(argv[0], "/") {
		return ""
	}
	p := argv[0]
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.Dir, p)
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return filepath.Clean(p)
}

// foreignScan is one scan of /proc's command lines, shared by every
// service a command looks at, and taken only if one needs it.
type foreignScan struct {
	once sync.Once
	ix   *proc.ArgIndex
}

// newScan starts a command that looks at services: the processes other
// tools started are looked for again, at most once, when first needed.
func (m *Manager) newScan() { m.scan.Store(&foreignScan{}) }

// index returns the current command's scan, taking it if need be.
func (m *Manager) index() *proc.ArgIndex {
	sc := m.scan.Load()
	if sc == nil {
		m.scan.CompareAndSwap(nil, &foreignScan{})
		sc = m.scan.Load()
	}
	sc.once.Do(func() { sc.ix, _ = proc.IndexArgs() })
	return sc.ix
}

// findForeign returns the server another tool started that plausibly is
// service s, when no instance of daemonctl's runs: the process its pid
// file names if that runs s's script, else the oldest process tree that
// runs it. Nil when s's command identifies nothing (scriptPath).
func (m *Manager) findForeign(s *config.Service, o state.Observation) *state.Foreign {
	if o.Running() || o.Launching() || o.Restarting() || o.Orphans > 0 {
		return nil
	}
	script := scriptPath(s)
	if script == "" {
		return nil
	}
	if o.PidFilePID != 0 {
		if info, err := proc.Inspect(o.PidFilePID); err == nil && !info.Zombie && runs(info.PID, script) {
			return foreign(s, info.Identity)
		}
	}
	ix := m.index()
	if ix == nil {
		return nil
	}
	for _, id := range ix.Find(script) {
		if id.Alive() {
			return foreign(s, id)
		}
	}
	return nil
}

// runs reports whether process pid has script among its arguments.
func runs(pid int, script string) bool {
	args, err := proc.Cmdline(pid)
	if err != nil {
		return false
	}
	cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	for _, a := range args {
		if !strings.Contains(a, "/") {
			continue
		}
		if !filepath.IsAbs(a) && cwd != "" {
			a = filepath.Join(cwd, a) // bash bin/start.sh, run from the server's dir
		}
		if a == script || evalSymlinks(a) == script {
			return true
		}
	}
	return false
}

func evalSymlinks(p string) string {
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	return p
}

func foreign(s *config.Service, id proc.Identity) *state.Foreign {
	return &state.Foreign{Identity: id, Service: s.Name, Command: proc.CommandLine(id.PID)}
}

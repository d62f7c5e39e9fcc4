package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/state"
)

// RemovedError is a start asked for a service the config no longer names,
// while run_dir still holds a record of it.
type RemovedError struct{ Name string }

func (e *RemovedError) Error() string {
	return "service " + e.Name + " is no longer in the config (run_dir still holds it, from an earlier one): stop it, or add it back to start it"
}

// removed returns stand-ins for the services run_dir holds a live record
// of (anything but stopped) that the config no longer names: enough to
// show them and to stop them, from what their records say.
func (m *Manager) removed() []*config.Service {
	entries, err := os.ReadDir(m.cfg.RunDir)
	if err != nil {
		return nil
	}
	var out []*config.Service
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".state")
		if !ok || m.cfg.Services[name] != nil || strings.HasPrefix(name, ".") {
			continue
		}
		if s := m.standIn(name); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// standIn builds the stand-in of removed service name from its record,
// nil if it has no record, or a stopped one.
func (m *Manager) standIn(name string) *config.Service {
	rec, err := m.store.Read(name)
	if err != nil || rec == nil || rec.Phase == state.PhaseStopped {
		return nil
	}
	s := &config.Service{Name: name, PidFile: rec.PidFile, LogFile: rec.LogFile,
		StopSignal: config.Signal(rec.StopSignal), Restart: config.RestartNever}
	if s.StopSignal == 0 {
		s.StopSignal = config.Signal(unix.SIGTERM)
	}
	timeout := config.Duration(rec.StopTimeout)
	if timeout == 0 {
		timeout = config.Duration(config.DefaultStopTimeout)
	}
	s.StopTimeout = &timeout
	if s.PidFile == "" {
		s.PidFile = filepath.Join(m.cfg.RunDir, name+".pid")
	}
	return s
}

// isRemoved reports whether s is a stand-in for a removed service.
func (m *Manager) isRemoved(s *config.Service) bool { return m.cfg.Services[s.Name] != s }

// selectAll returns the named services, or all of them with none named,
// including services the config no longer names that run_dir holds (for
// status and stop).
func (m *Manager) selectAll(names []string) ([]*config.Service, error) {
	if len(names) == 0 {
		return append(m.services(), m.removed()...), nil
	}
	var out []*config.Service
	for _, n := range names {
		s := m.cfg.Services[n]
		if s == nil {
			if s = m.standIn(n); s == nil {
				return nil, &config.UnknownServiceError{Name: n}
			}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// selectConfigured returns the named services the config names (all with
// none named), for start: a removed one is an error saying so.
func (m *Manager) selectConfigured(names []string) ([]*config.Service, error) {
	services, err := m.cfg.Select(names)
	var unknown *config.UnknownServiceError
	if errors.As(err, &unknown) && m.standIn(unknown.Name) != nil {
		return nil, &RemovedError{Name: unknown.Name}
	}
	return services, err
}

// leaveShared drops shared services (config.Service.Shared) from a
// command on all services, saying so for those that run: only naming
// them stops or restarts them.
func (m *Manager) leaveShared(services []*config.Service) []*config.Service {
	return slices.DeleteFunc(services, func(s *config.Service) bool {
		if s.Shared && m.observe(s).Running() {
			m.printf("%s left running: it is shared (name it to stop or restart it)", s.Name)
		}
		return s.Shared
	})
}

func serviceNames(services []*config.Service) []string {
	out := make([]string, len(services))
	for i, s := range services {
		out[i] = s.Name
	}
	return out
}

func (m *Manager) services() []*config.Service {
	all, _ := m.cfg.Select(nil)
	return all
}

// forget removes the records of a removed service once it is stopped:
// nothing of it is left to show.
func (m *Manager) forget(s *config.Service) {
	os.Remove(m.store.RecordPath(s.Name))
	os.Remove(m.store.CrashPath(s.Name))
}

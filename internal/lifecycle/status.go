package lifecycle

import "github.com/daemonctl/daemonctl/internal/state"

// Status reports the named services (all when none is named), each as
// package state classifies what its record and /proc show.
func (m *Manager) Status(names []string) ([]state.Status, error) {
	services, err := m.cfg.Select(names)
	if err != nil {
		return nil, err
	}
	owner := m.store.CheckOwner(m.cfg.Path, false)
	out := make([]state.Status, len(services))
	for i, s := range services {
		if owner != nil {
			out[i] = state.Observation{RecordErr: owner}.Status(s.Name, s.PidFile, s.LogFile)
			continue
		}
		out[i] = m.observe(s).Status(s.Name, s.PidFile, s.LogFile)
	}
	return out, nil
}

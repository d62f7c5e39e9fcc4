package lifecycle

import (
	"github.com/daemonctl/daemonctl/internal/drift"
	"github.com/daemonctl/daemonctl/internal/state"
)

// Status reports the named services (all when none is named), each as
// package state classifies what its record and /proc show, including
// services the config no longer names that run_dir still holds, and
// whether each running one was started from the config as it stands.
func (m *Manager) Status(names []string) ([]state.Status, error) {
	m.newScan()
	services, err := m.selectAll(names)
	if err != nil {
		return nil, err
	}
	owner := m.store.CheckOwner(m.cfg.Path, false)
	store := m.store.Snapshot()
	var hasher drift.Hasher
	out := make([]state.Status, len(services))
	for i, s := range services {
		if owner != nil {
			out[i] = state.Observation{RecordErr: owner}.Status(s.Name, s.PidFile, s.LogFile)
			out[i].InConfig = true
			continue
		}
		o := m.observeIn(store, s)
		st := o.Status(s.Name, s.PidFile, s.LogFile)
		st.InConfig = !m.isRemoved(s)
		if r := o.Record; st.InConfig && r != nil && r.Fingerprint != "" && (o.Running() || o.Restarting()) {
			st.ConfigChanged = hasher.Fingerprint(m.cfg, s) != r.Fingerprint
		}
		out[i] = st
	}
	return out, nil
}

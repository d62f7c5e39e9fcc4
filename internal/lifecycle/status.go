package lifecycle

import (
	"iter"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/drift"
	"github.com/daemonctl/daemonctl/internal/state"
	"github.com/daemonctl/daemonctl/internal/stripe"
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
	out := make([]state.Status, len(services))
	if len(services) == 1 { // what a snapshot or a goroutine would save, one look costs
		out[0] = m.statusIn(m.store, owner, &drift.Hasher{}, services[0])
		return out, nil
	}
	store := m.store.Snapshot()
	// Reading each service's files and /proc entries is most of a status
	// of many services, and mostly waiting on the kernel.
	stripe.Do(len(services), statusShare, func(indexes iter.Seq[int]) {
		var hasher drift.Hasher // its cache of env files is its goroutine's own
		for i := range indexes {
			out[i] = m.statusIn(store, owner, &hasher, services[i])
		}
	})
	return out, nil
}

// statusShare is how many services are worth another goroutine
// (stripe.Do).
const statusShare = 16

// statusIn is the status of service s in store (a snapshot); owner is
// what run_dir's owner check said.
func (m *Manager) statusIn(store state.Store, owner error, hasher *drift.Hasher, s *config.Service) state.Status {
	if owner != nil {
		st := state.Observation{RecordErr: owner}.Status(s.Name, s.PidFile, s.LogFile)
		st.InConfig = true
		return st
	}
	o := m.observeIn(store, s)
	st := o.Status(s.Name, s.PidFile, s.LogFile)
	st.InConfig = !m.isRemoved(s)
	if r := o.Record; st.InConfig && r != nil && r.Fingerprint != "" && (o.Running() || o.Restarting()) {
		st.ConfigChanged = hasher.Fingerprint(m.cfg, s) != r.Fingerprint
	}
	return st
}

package state

import (
	"os"
	"strings"
	"sync"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// snapshot is what one look at many services learns once instead of once
// a service: which crash records run_dir holds, and whether each
// supervisor (most services share one) is alive.
type snapshot struct {
	// crashes names the services with a crash record; nil when run_dir
	// could not be listed, and every record is tried.
	crashes map[string]bool

	mu    sync.Mutex
	alive map[proc.Identity]bool
}

// Snapshot returns a Store for one look at many services (a status of
// all of them): run_dir is listed once for the crash records it holds,
// instead of an open that fails for every service without one, and each
// supervisor is looked up in /proc once, however many services it
// watches. Keep it for that one look only: what it learned grows stale.
func (s Store) Snapshot() Store {
	snap := &snapshot{alive: map[proc.Identity]bool{}}
	if entries, err := os.ReadDir(s.Dir); err == nil {
		snap.crashes = map[string]bool{}
		for _, e := range entries {
			if name, ok := strings.CutSuffix(e.Name(), ".crash"); ok {
				snap.crashes[name] = true
			}
		}
	}
	s.snap = snap
	return s
}

// mayHaveCrash reports whether service name may have a crash record.
func (s Store) mayHaveCrash(name string) bool {
	return s.snap == nil || s.snap.crashes == nil || s.snap.crashes[name]
}

// supervisorAlive is r.SupervisorAlive, asked once per supervisor in a
// snapshot.
func (s Store) supervisorAlive(r *Record) bool {
	if s.snap == nil || r.Supervisor == nil {
		return r.SupervisorAlive()
	}
	s.snap.mu.Lock()
	defer s.snap.mu.Unlock()
	alive, ok := s.snap.alive[*r.Supervisor]
	if !ok {
		alive = r.SupervisorAlive()
		s.snap.alive[*r.Supervisor] = alive
	}
	return alive
}

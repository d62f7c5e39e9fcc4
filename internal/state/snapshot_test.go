package state

import (
	"os"
	"testing"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// A snapshot reads the crash records there are, skips those there are
// not, and asks /proc once per supervisor.
func TestSnapshot(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	self, err := proc.Inspect(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	crashed := &Record{Supervisor: &self.Identity, LastCrash: &Crash{Reason: "liveness failed"}, crashChanged: true}
	if err := s.Write("crashed", crashed); err != nil {
		t.Fatal(err)
	}
	if err := s.Write("calm", &Record{Supervisor: &self.Identity}); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	if r, err := snap.Read("crashed"); err != nil || r.LastCrash == nil || r.LastCrash.Reason != "liveness failed" {
		t.Fatalf("crashed through a snapshot: %+v, %v", r, err)
	}
	if r, err := snap.Read("calm"); err != nil || r.LastCrash != nil {
		t.Fatalf("calm through a snapshot: %+v, %v", r, err)
	}
	for _, name := range []string{"crashed", "calm"} {
		if o := snap.Observe(name, s.Dir+"/none.pid"); !o.SupervisorAlive {
			t.Errorf("%s: this process, its supervisor, seen as dead", name)
		}
	}
	if len(snap.snap.alive) != 1 {
		t.Errorf("one supervisor asked about %d times in the memo", len(snap.snap.alive))
	}
	// a crash record written after the snapshot is not seen by it, but is
	// by the store itself
	if err := s.Write("late", &Record{LastCrash: &Crash{Reason: "late"}, crashChanged: true}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Read("late"); r == nil || r.LastCrash == nil {
		t.Errorf("a crash record the store holds is not read: %+v", r)
	}
}

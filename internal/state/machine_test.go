package state

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// A service's whole life, event by event, as the commands and the monitor
// write it.
func TestLife(t *testing.T) {
	r, err := RequestStart(nil, Start{Service: "web", Claim: "c1", PidFile: "/p", LogFile: "/l"})
	must(t, err, r, PhaseStarting)
	must(t, r.Reserve("tok", "boot"), r, PhaseStarting)
	must(t, r.Launch(Instance{Leader: proc.Identity{PID: 10}, Token: "tok", PidFile: "/p", LogFile: "/l"}), r, PhaseStarting)
	must(t, r.MarkReady(), r, PhaseRunning)
	if r.ReadyAt == nil {
		t.Error("MarkReady left ReadyAt unset")
	}
	must(t, r.Exit(proc.ExitStatus{Code: 1}, &Crash{}), r, PhaseRunning)
	must(t, r.ScheduleRestart(time.Second), r, PhaseRunning)
	if r.Restarts != 1 || r.NextRestart == nil {
		t.Errorf("ScheduleRestart: restarts %d, next %v", r.Restarts, r.NextRestart)
	}
	must(t, r.Launch(Instance{Leader: proc.Identity{PID: 11}, Token: "tok2", PidFile: "/p", LogFile: "/l"}), r, PhaseStarting)
	if r.NextRestart != nil {
		t.Error("a launch left the restart scheduled")
	}
	must(t, r.RequestStop(), r, PhaseStopping)
	must(t, r.Exit(proc.ExitStatus{Signal: "TERM"}, nil), r, PhaseStopping)
	must(t, r.MarkStopped(), r, PhaseStopped)
	next, err := RequestStart(r, Start{Service: "web"})
	must(t, err, next, PhaseStarting)
	if next.LastExit == nil || next.LastExit.Signal != "TERM" || next.Restarts != 0 {
		t.Errorf("a new start kept %+v of the last one; want its last exit and no restarts", next)
	}
}

func must(t *testing.T, err error, r *Record, want Phase) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != want {
		t.Fatalf("phase %q, want %q", r.Phase, want)
	}
}

// Every event in every phase: what the machine allows moves the record,
// the rest is refused and leaves it as it was.
func TestMachineRefusesIllegalTransitions(t *testing.T) {
	events := map[Event]func(*Record) error{
		Launching:        func(r *Record) error { return r.Reserve("t", "b") },
		Launched:         func(r *Record) error { return r.Launch(Instance{Leader: proc.Identity{PID: 1}, Token: "t"}) },
		TookOver:         func(r *Record) error { return r.TakeOver(proc.Identity{PID: 2}, "c") },
		BecameReady:      (*Record).MarkReady,
		Exited:           func(r *Record) error { return r.Exit(proc.ExitStatus{}, nil) },
		RestartScheduled: func(r *Record) error { return r.ScheduleRestart(time.Second) },
		GaveUp:           func(r *Record) error { return r.GiveUp("given up") },
		StopRequested:    (*Record).RequestStop,
		StopDone:         (*Record).MarkStopped,
	}
	for _, from := range []Phase{"", PhaseStarting, PhaseRunning, PhaseStopping, PhaseStopped, PhaseFailed} {
		for ev, write := range events {
			r := &Record{Service: "web", Phase: from}
			err := write(r)
			want, legal := machine[from][ev]
			switch {
			case legal && (err != nil || r.Phase != want):
				t.Errorf("%s in phase %q: %v, phase %q; want phase %q", ev, from, err, r.Phase, want)
			case !legal && err == nil:
				t.Errorf("%s in phase %q was allowed (now %q)", ev, from, r.Phase)
			case !legal && (r.Phase != from || !strings.Contains(err.Error(), "invalid state transition")):
				t.Errorf("%s in phase %q refused as %v, phase now %q", ev, from, err, r.Phase)
			}
		}
	}
	// A stop can never be undone by the monitor: nothing it writes leads
	// out of stopping or stopped but a new start.
	for _, from := range []Phase{PhaseStopping, PhaseStopped} {
		for _, ev := range []Event{Launching, Launched, BecameReady, RestartScheduled, GaveUp, TookOver} {
			if _, ok := machine[from][ev]; ok {
				t.Errorf("the monitor's %s is allowed while %s", ev, from)
			}
		}
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s := Store{Dir: dir}
	if r, err := s.Read("web"); r != nil || err != nil {
		t.Fatalf("Read of nothing = %v, %v", r, err)
	}
	r, _ := RequestStart(nil, Start{Service: "web", Claim: "mine"})
	if err := s.Write("web", r); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wrote, err := s.Update(ctx, "web", func(r *Record) bool { return r.Claim == "theirs" }, (*Record).RequestStop)
	if wrote || err != nil {
		t.Fatalf("Update of a record that does not match wrote %v, %v", wrote, err)
	}
	wrote, err = s.Update(ctx, "web", func(r *Record) bool { return r.Claim == "mine" }, (*Record).RequestStop)
	if !wrote || err != nil {
		t.Fatalf("Update = %v, %v", wrote, err)
	}
	if r, _ := s.Read("web"); r.Phase != PhaseStopping {
		t.Fatalf("phase after Update %q", r.Phase)
	}
	if _, err := s.Update(ctx, "web", func(*Record) bool { return true }, (*Record).MarkReady); err == nil {
		t.Fatal("an illegal transition was written")
	}
	if r, _ := s.Read("web"); r.Phase != PhaseStopping {
		t.Fatalf("a refused transition changed the record: %q", r.Phase)
	}

	l, err := s.Lock(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Locked("web") {
		t.Error("Locked says no while the lock is held")
	}
	l.Release()
	if s.Locked("web") {
		t.Error("Locked says yes after release")
	}

	os.WriteFile(s.RecordPath("bad"), []byte("{not json"), 0o644)
	if _, err := s.Read("bad"); err == nil {
		t.Error("a garbage record read without error")
	}
}

func TestObserve(t *testing.T) {
	dir := t.TempDir()
	s := Store{Dir: dir}
	pidFile := filepath.Join(dir, "web.pid")
	self, err := proc.Inspect(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{Service: "web", Phase: PhaseRunning, Leader: self.Identity, Supervisor: &self.Identity}
	s.Write("web", r)
	os.WriteFile(pidFile, []byte("1\n"), 0o644)
	o := s.Observe("web", pidFile)
	if !o.LeaderAlive || !o.SupervisorAlive || o.PidFilePID != 1 {
		t.Fatalf("Observe = %+v", o)
	}
	if st, _ := o.Classify(); st != Running {
		t.Fatalf("state %s, want running", st)
	}
	r.Leader.StartTicks++ // the same pid, another process
	s.Write("web", r)
	if st, detail := s.Observe("web", pidFile).Classify(); st != Dead {
		t.Fatalf("a record naming another process: %s %s", st, detail)
	}
}

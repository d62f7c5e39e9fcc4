package state

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/proc"
)

func TestClassify(t *testing.T) {
	exit1 := &proc.ExitStatus{Code: 1}
	soon := time.Now().Add(2 * time.Second)
	rec := func(phase Phase, edit ...func(*Record)) *Record {
		r := &Record{Service: "web", Phase: phase, Leader: proc.Identity{PID: 4242}, Token: "t"}
		for _, e := range edit {
			e(r)
		}
		return r
	}
	withExit := func(r *Record) { r.LastExit = exit1 }
	restarting := func(r *Record) { r.NextRestart, r.Restarts = &soon, 2 }
	restarted := func(r *Record) { r.Restarts = 3 }
	logTrouble := func(r *Record) { r.LogError = "writing the log fails" }
	tests := []struct {
		name   string
		o      Observation
		want   Reported
		detail string // a part of the detail, when it matters
	}{
		{"never started", Observation{}, Stopped, ""},
		{"unreadable record", Observation{RecordErr: errors.New("state file: corrupt")}, Unknown, "corrupt"},
		{"unreadable pid file", Observation{PidErr: errors.New("pid file: garbage")}, Unknown, "garbage"},
		{"foreign pid file", Observation{PidFilePID: 1}, Dead, "pid file names pid 1"},
		{"starting", Observation{Record: rec(PhaseStarting), LeaderAlive: true}, Starting, ""},
		{"running", Observation{Record: rec(PhaseRunning), LeaderAlive: true}, Running, ""},
		{"running, log failing", Observation{Record: rec(PhaseRunning, logTrouble), LeaderAlive: true}, Running, "log fails"},
		{"stopping", Observation{Record: rec(PhaseStopping), LeaderAlive: true}, Stopping, ""},
		{"stopping, leader gone, rest of tree going", Observation{Record: rec(PhaseStopping)}, Stopping, ""},
		{"stop interrupted, still running", Observation{Record: rec(PhaseStopping), LeaderAlive: true, StopInterrupted: true}, Running, "interrupted"},
		{"stop interrupted after it ended", Observation{Record: rec(PhaseStopping), StopInterrupted: true}, Stopped, "interrupted"},
		{"stopped", Observation{Record: rec(PhaseStopped)}, Stopped, ""},
		{"stopped, pid reused since", Observation{Record: rec(PhaseStopped), LeaderAlive: true}, Stopped, ""},
		{"launch interrupted, orphans left", Observation{Record: rec(PhaseStarting, func(r *Record) { r.Leader.PID = 0 }), Orphans: 2}, Dead, "2 process(es)"},
		{"launching", Observation{Record: rec(PhaseStarting), SupervisorAlive: true}, Starting, ""},
		{"waiting to restart", Observation{Record: rec(PhaseRunning, withExit, restarting), SupervisorAlive: true}, Dead, "restarting in"},
		{"gave up at start", Observation{Record: rec(PhaseFailed, withExit)}, Failed, "start gave up: exit status 1"},
		{"launch failed", Observation{Record: rec(PhaseFailed, func(r *Record) { r.Leader.PID, r.GaveUpBecause = 0, "launch ./x: no such file or directory" })}, Failed, "start gave up: launch ./x: no such file"},
		{"gave up after restarts", Observation{Record: rec(PhaseFailed, withExit, restarted)}, Failed, "gave up after 3 restarts"},
		{"failed, pid reused since", Observation{Record: rec(PhaseFailed), LeaderAlive: true}, Failed, "not ready"},
		{"crashed", Observation{Record: rec(PhaseRunning, withExit)}, Dead, "pid 4242 ended without a stop (exit status 1)"},
		{"crashed, supervisor gone", Observation{Record: rec(PhaseStarting)}, Dead, "ended without a stop"},
	}
	seen := map[Reported]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, detail := tt.o.Classify()
			if got != tt.want || !strings.Contains(detail, tt.detail) {
				t.Errorf("Classify() = %s %q, want %s with %q", got, detail, tt.want, tt.detail)
			}
		})
		seen[tt.want] = true
	}
	for _, s := range []Reported{Running, Starting, Stopping, Stopped, Dead, Failed, Unknown} {
		if !seen[s] {
			t.Errorf("no case reports %s", s)
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		states []Reported
		want   int
	}{
		{nil, 0},
		{[]Reported{Running, Starting, Stopping}, 0},
		{[]Reported{Running, Stopped}, 3},
		{[]Reported{Stopped, Dead}, 1},
		{[]Reported{Failed, Stopped}, 1},
		{[]Reported{Dead, Unknown, Stopped}, 4},
	}
	for _, tt := range tests {
		var sts []Status
		for _, s := range tt.states {
			sts = append(sts, Status{State: s})
		}
		if got := ExitCode(sts); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.states, got, tt.want)
		}
	}
}

func TestStatusShowsOnlyALiveInstance(t *testing.T) {
	r := &Record{Service: "web", Phase: PhaseRunning, Leader: proc.Identity{PID: 4242}, Supervisor: &proc.Identity{PID: 99}, StartedAt: time.Now().Add(-time.Minute)}
	st := Observation{Record: r, LeaderAlive: true, SupervisorAlive: true}.Status("web", "/p", "/l")
	if st.PID == nil || *st.PID != 4242 || !st.Ready || st.SupervisorPID == nil || *st.SupervisorPID != 99 || *st.UptimeSeconds < 59 {
		t.Errorf("running instance shown as %+v", st)
	}
	st = Observation{Record: r}.Status("web", "/p", "/l")
	if st.PID != nil || st.Ready || st.SupervisorPID != nil || st.State != Dead {
		t.Errorf("dead instance shown as %+v", st)
	}
	st = Observation{PidFilePID: 77}.Status("web", "/p", "/l")
	if st.PID == nil || *st.PID != 77 {
		t.Errorf("a foreign pid file's pid is not shown: %+v", st)
	}
}

package proc

import (
	"os/exec"
	"testing"
)

func TestNoWrapBoundsThePidsHandedOutSinceTheLeader(t *testing.T) {
	then := PIDCount{Forks: 1000, Threads: 90, PIDMax: 32768}
	for _, tt := range []struct {
		name string
		now  PIDCount
		pid  int
		want bool
	}{
		{"few made since", PIDCount{Forks: 1010, PIDMax: 32768}, 20000, true},
		{"the count could have passed pid_max", PIDCount{Forks: 1010, PIDMax: 32768}, 32700, false},
		{"enough made since to go round", PIDCount{Forks: 1000 + 32768, PIDMax: 32768}, 300, false},
		{"skipped pids count too", PIDCount{Forks: 1000 + 32768 - 300 - 90, PIDMax: 32768}, 300, false},
		{"just below", PIDCount{Forks: 1000 + 32768 - 300 - 91, PIDMax: 32768}, 300, true},
		{"pid_max lowered since", PIDCount{Forks: 1010, PIDMax: 20000}, 20000, false},
		{"another boot", PIDCount{Forks: 10, PIDMax: 32768}, 400, false},
	} {
		if got := noWrap(then, tt.now, tt.pid); got != tt.want {
			t.Errorf("%s: noWrap = %v, want %v", tt.name, got, tt.want)
		}
	}
	if noWrap(PIDCount{}, PIDCount{Forks: 5, PIDMax: 32768}, 400) {
		t.Error("an unknown count told no wrap")
	}
}

func TestReadPIDCountCountsEveryProcessMade(t *testing.T) {
	before, err := ReadPIDCount()
	if err != nil {
		t.Fatal(err)
	}
	if before.Threads == 0 || before.PIDMax == 0 {
		t.Fatalf("count %+v: no threads or pid_max", before)
	}
	const made = 3
	for range made {
		if err := exec.Command("true").Run(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := ReadPIDCount()
	if err != nil {
		t.Fatal(err)
	}
	if after.Forks < before.Forks+made {
		t.Fatalf("forks %d then %d after %d processes", before.Forks, after.Forks, made)
	}
}

// A tree with the count at its launch is scanned from its leader's pid
// up, unless the count could have gone round; without one, from the
// bottom.
func TestLowestPID(t *testing.T) {
	// exec: dash forks for a last command, and the shell and its sleep
	// would be two members, or one if the scan came before the fork.
	tree := spawnShell(t, t.TempDir(), "exec sleep 100")
	if got := tree.lowestPID(); got != tree.Leader.PID {
		t.Errorf("count known: lowest pid %d, want the leader's %d", got, tree.Leader.PID)
	}
	table, err := scan(tree.Leader.PID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.membersIn(table, true)) != 1 {
		t.Errorf("a scan from the leader's pid up: members %v, want the leader", tree.membersIn(table, true))
	}
	for _, e := range table {
		if e.PID < tree.Leader.PID {
			t.Errorf("a scan from pid %d read pid %d", tree.Leader.PID, e.PID)
		}
	}
	unknown := tree
	unknown.Born = PIDCount{}
	if got := unknown.lowestPID(); got != 0 {
		t.Errorf("count unknown: lowest pid %d, want 0", got)
	}
	wrapped := tree
	wrapped.Born.PIDMax = uint64(tree.Leader.PID) + 1
	if got := wrapped.lowestPID(); got != 0 {
		t.Errorf("count that may have gone round: lowest pid %d, want 0", got)
	}
}

package proc

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func spawnTree(t *testing.T) *Child {
	t.Helper()
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	c, err := Spawn(Spec{
		Argv:   []string{"/bin/sh", "-c", "sleep 100 & setsid sleep 100 & sleep 100; true"},
		Dir:    t.TempDir(),
		Env:    []string{"PATH=/usr/bin:/bin", TokenVar + "=test-token-" + t.Name()},
		Output: devnull,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		(Tree{Leader: c.ID, Token: "test-token-" + t.Name()}).Stop(context.Background(), unix.SIGKILL, time.Second, time.Second)
	})
	return c
}

func waitMembers(t *testing.T, tree Tree, n int) []Identity {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := tree.Members()
		if err != nil {
			t.Fatal(err)
		}
		if len(m) >= n || time.Now().After(deadline) {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTreeStopEndsEveryMember(t *testing.T) {
	c := spawnTree(t)
	tree := Tree{Leader: c.ID, Token: "test-token-" + t.Name()}
	members := waitMembers(t, tree, 4)
	if len(members) != 4 { // sh, two sleeps in its group, one that left it
		t.Fatalf("members = %v, want 4 processes", members)
	}
	res, err := tree.Stop(context.Background(), unix.SIGTERM, 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Signalled != 4 || res.Killed {
		t.Errorf("result %+v", res)
	}
	for _, id := range members {
		if id.Alive() {
			t.Errorf("pid %d survived", id.PID)
		}
	}
}

func TestIdentityRejectsReusedPID(t *testing.T) {
	c := spawnTree(t)
	if !c.ID.Alive() {
		t.Fatal("fresh child not alive")
	}
	reused := c.ID
	reused.StartTicks-- // the same pid, started at another time: another process
	if reused.Alive() {
		t.Error("identity with another start time reads alive")
	}
	if _, err := Open(reused); !errors.Is(err, ErrGone) {
		t.Errorf("Open(reused) = %v, want ErrGone", err)
	}
	otherBoot := c.ID
	otherBoot.BootID = "00000000-0000-0000-0000-000000000000"
	if otherBoot.Alive() {
		t.Error("identity from another boot reads alive")
	}
	// A tree whose leader is not alive and has no token finds nothing,
	// even though the pid's process group has members.
	if m, _ := (Tree{Leader: reused}).Members(); len(m) != 0 {
		t.Errorf("members of an impostor tree: %v", m)
	}
}

func TestChildExitStatus(t *testing.T) {
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	for _, tt := range []struct {
		script string
		want   string
	}{{"exit 3", "exit status 3"}, {"kill -KILL $$", "killed by signal KILL"}} {
		c, err := Spawn(Spec{Argv: []string{"/bin/sh", "-c", tt.script}, Dir: "/", Env: []string{"PATH=/bin:/usr/bin"}, Output: devnull})
		if err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		if got := c.Exit().String(); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.script, got, tt.want)
		}
	}
	if FromSignal(unix.SIGKILL).Code != 137 {
		t.Error("128+signal")
	}
}

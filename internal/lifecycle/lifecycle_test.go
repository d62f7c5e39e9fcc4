package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

func load(t *testing.T, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "daemonctl.yaml")
	os.WriteFile(path, []byte(yaml), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestInOrderWaitsForDependenciesAndRunsTheRestInParallel(t *testing.T) {
	cfg := load(t, `services:
  zk: {command: "true"}
  master: {command: "true", depends_on: [zk]}
  api: {command: "true", depends_on: [master]}
  alert: {command: "true"}
`)
	set, _ := cfg.Select(nil)
	var (
		mu   sync.Mutex
		done = map[string]bool{}
	)
	both := make(chan struct{}, 2) // zk and alert run at once
	err := inOrder(context.Background(), set, dependencies, func(_ context.Context, s *config.Service) error {
		mu.Lock()
		for _, d := range s.DependsOn {
			if !done[d] {
				t.Errorf("%s ran before %s was done", s.Name, d)
			}
		}
		mu.Unlock()
		if s.Name == "zk" || s.Name == "alert" {
			both <- struct{}{}
			for len(both) < 2 {
				time.Sleep(time.Millisecond)
			}
		}
		mu.Lock()
		done[s.Name] = true
		mu.Unlock()
		return nil
	})
	if err != nil || len(done) != 4 {
		t.Fatalf("inOrder: %v, done %v", err, done)
	}

	boom := errors.New("port in use")
	err = inOrder(context.Background(), set, dependencies, func(_ context.Context, s *config.Service) error {
		if s.Name == "zk" {
			return boom
		}
		return nil
	})
	var failures Failures
	if !errors.As(err, &failures) || len(failures) != 3 {
		t.Fatalf("a failed dependency: %v", err)
	}
	if !errors.Is(failures[0], boom) || !errors.Is(failures[1], ErrSkipped) || !errors.Is(failures[2], ErrSkipped) {
		t.Errorf("failures %v: want zk's error, then master and api skipped", failures)
	}
}

// spawnRecorded launches a tree (a shell whose child outlives nothing)
// as the monitor would, and records it as service s's running instance.
func spawnRecorded(t *testing.T, cfg *config.Config, s *config.Service, script string) proc.Identity {
	t.Helper()
	token := "tok-" + s.Name
	env := append(os.Environ(), proc.TokenVar+"="+token)
	id, err := proc.Spawn(proc.Spec{Argv: []string{"/bin/sh", "-c", script}, Dir: s.Dir, Env: env, Stdout: os.Stderr, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	proc.ReapLater(id)
	rec, _ := state.RequestStart(nil, state.Start{Service: s.Name, PidFile: s.PidFile, LogFile: s.LogFile})
	rec.Launch(state.Instance{Leader: id, Token: token, PidFile: s.PidFile, LogFile: s.LogFile})
	rec.MarkReady()
	store := state.Store{Dir: cfg.RunDir}
	os.MkdirAll(cfg.RunDir, 0o755)
	if err := store.Write(s.Name, rec); err != nil {
		t.Fatal(err)
	}
	pidfile.WritePID(s.PidFile, id.PID)
	return id
}

func TestStopEndsTheWholeTree(t *testing.T) {
	cfg := load(t, "services:\n  web: {command: \"true\", stop_timeout: 10s}\n")
	s := cfg.Services["web"]
	leader := spawnRecorded(t, cfg, s, "sleep 60 & sleep 60 & wait")
	members := waitMembers(t, state.Store{Dir: cfg.RunDir}, "web", 3)
	var out bytes.Buffer
	m := New(cfg, os.Environ(), &out, SupervisorCommand{})
	began := time.Now()
	if err := m.Stop(context.Background(), nil, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("stop took %s for a tree that exits on TERM", took)
	}
	for _, id := range members {
		if id.Alive() {
			t.Errorf("pid %d of the tree survived the stop", id.PID)
		}
	}
	if !strings.Contains(out.String(), "web stopped (pid "+strconv.Itoa(leader.PID)) {
		t.Errorf("stop said %q", out.String())
	}
	sts, _ := m.Status(nil)
	if sts[0].State != state.Stopped {
		t.Errorf("status after stop: %+v", sts[0])
	}
	if _, err := os.Stat(s.PidFile); !os.IsNotExist(err) {
		t.Error("the pid file is still there")
	}
}

func TestStopLeavesAForeignProcessAlone(t *testing.T) {
	cfg := load(t, "services:\n  web: {command: \"true\"}\n")
	s := cfg.Services["web"]
	os.MkdirAll(filepath.Dir(s.PidFile), 0o755)
	pidfile.WritePID(s.PidFile, os.Getpid()) // names this test, not the service
	var out bytes.Buffer
	m := New(cfg, os.Environ(), &out, SupervisorCommand{})
	if sts, _ := m.Status(nil); sts[0].State != state.Dead || state.ExitCode(sts) != 1 {
		t.Fatalf("a pid file naming another process: %+v", sts[0])
	}
	if err := m.Stop(context.Background(), nil, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "left alone") {
		t.Errorf("stop said %q", out.String())
	}
	// A pid file naming a live process is never removed, whoever wrote
	// it: the service still reads dead, and the file is there.
	if sts, _ := m.Status(nil); sts[0].State != state.Dead {
		t.Errorf("after stop: %+v", sts[0])
	}
	if pid, err := pidfile.ReadPID(s.PidFile); err != nil || pid != os.Getpid() {
		t.Errorf("after stop, the pid file reads %d, %v", pid, err)
	}
}

func waitMembers(t *testing.T, store state.Store, name string, n int) []proc.Identity {
	t.Helper()
	rec, _ := store.Read(name)
	deadline := time.Now().Add(5 * time.Second)
	for {
		members, _ := rec.Tree().Members()
		if len(members) >= n {
			return members
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tree has %d processes, want %d", len(members), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEnvCopyKeepsTheSourcesModeAndOwner(t *testing.T) {
	cfg := load(t, "env_file: env.sh\nservices:\n  web: {command: \"true\", env_copy_to: conf/env.sh}\n")
	os.WriteFile(cfg.EnvFile, []byte("export SPRING_DATASOURCE_PASSWORD=hunter2\n"), 0o600)
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 65534, 65534 // nobody, as a DolphinScheduler install's files are the deploy user's
		os.Chown(cfg.EnvFile, uid, gid)
	}
	s := cfg.Services["web"]
	os.MkdirAll(filepath.Dir(s.EnvCopyTo), 0o755)
	m := New(cfg, nil, nil, SupervisorCommand{})
	if err := m.copyEnvFile(s); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(s.EnvCopyTo, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o777 != 0o600 || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("copy is mode %04o owned by %d:%d, want 0600 owned by %d:%d", st.Mode&0o777, st.Uid, st.Gid, uid, gid)
	}
}

// TestEachCommandLooksForForeignServersAgain: a manager lives on in a
// run (its /readyz and /metrics ask for status again and again), so a
// server another tool started after the manager's first look is still
// seen by its next one.
func TestEachCommandLooksForForeignServersAgain(t *testing.T) {
	cfg := load(t, "services:\n  web: {command: [bin/start.sh]}\n")
	script := filepath.Join(cfg.Dir, "bin", "start.sh")
	os.MkdirAll(filepath.Dir(script), 0o755)
	os.WriteFile(script, []byte("#!/bin/sh\nsleep 1000\n"), 0o755)
	m := New(cfg, os.Environ(), nil, SupervisorCommand{})
	if sts, _ := m.Status(nil); sts[0].State != state.Stopped {
		t.Fatalf("before: %s", sts[0].State)
	}
	other := exec.Command("/bin/sh", script) // as another tool runs it
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-other.Process.Pid, syscall.SIGKILL); other.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sts, _ := m.Status(nil)
		if sts[0].State == state.Unmanaged {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a server started since the first status: still %s", sts[0].State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

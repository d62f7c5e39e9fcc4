package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/daemonctl/daemonctl/internal/config"
)

const testConfig = `
services:
  registry: {command: [zk]}
  master: {command: [m], depends_on: [registry]}
  worker: {command: [w], depends_on: [master]}
  api: {command: [a], depends_on: [registry]}
  alert: {command: [al]}
hosts:
  n1: {services: [registry, master], install_path: "/opt/ds it's"}
  n2: {services: [worker, api], port: 2222, user: ds}
  n3: {services: [worker]}
`

func runner(t *testing.T) *Runner {
	cfg, err := config.Parse("daemonctl.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RunDir = t.TempDir()
	return &Runner{Config: cfg}
}

func TestLevels(t *testing.T) {
	r := runner(t)
	got, err := r.levels([]string{"worker"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"registry"}, {"master"}, {"worker"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("levels of worker with its dependencies = %v, want %v", got, want)
	}
	got, _ = r.levels(nil, false)
	want = [][]string{{"registry", "alert"}, {"master", "api"}, {"worker"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("levels of all = %v, want %v", got, want)
	}
	if _, err := r.levels([]string{"alert"}, false); err == nil {
		t.Error("levels of a service no host runs: no error")
	}
}

func TestTargets(t *testing.T) {
	targets, hosts, err := runner(t).Targets([]string{"worker", "master"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"n1", "n2", "n3"}; !reflect.DeepEqual(hosts, want) {
		t.Errorf("hosts = %v, want %v", hosts, want)
	}
	want := map[string][]string{"n1": {"master"}, "n2": {"worker"}, "n3": {"worker"}}
	if !reflect.DeepEqual(targets, want) {
		t.Errorf("targets = %v, want %v", targets, want)
	}
}

// TestLimit: --hosts keeps the hosts it names or matches, in the
// config's order; an entry that keeps no host is an error naming it.
func TestLimit(t *testing.T) {
	r := runner(t)
	r.Limit = []string{"n3", "n[12]"}
	_, hosts, err := r.Targets(nil)
	if err != nil || !reflect.DeepEqual(hosts, []string{"n1", "n2", "n3"}) {
		t.Errorf("n3,n[12]: %v, %v", hosts, err)
	}
	r.Limit = []string{"n2"}
	targets, hosts, err := r.Targets([]string{"worker"})
	if err != nil || !reflect.DeepEqual(hosts, []string{"n2"}) || !reflect.DeepEqual(targets, map[string][]string{"n2": {"worker"}}) {
		t.Errorf("n2: %v %v, %v", hosts, targets, err)
	}
	for entry, want := range map[string]string{"n9": `--hosts: unknown host "n9"`, "x*": `--hosts "x*" matches no host of the config`} {
		r.Limit = []string{entry}
		var unknown *UnknownHostError
		if _, _, err := r.Targets(nil); !errors.As(err, &unknown) || err.Error() != want {
			t.Errorf("%s: %v, want %q", entry, err, want)
		}
	}
}

// TestRemoteCommand runs the remote command line through a real shell
// (with echo standing in for daemonctl), so that quoting is proven, not
// assumed.
func TestRemoteCommand(t *testing.T) {
	h := &config.Host{Binary: "echo", Config: "my config.yaml"}
	line := remoteCommand(h, []string{"status", "--json", "it's", "$HOME", "a b"})
	out, err := exec.Command("sh", "-c", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "--config my config.yaml status --json it's $HOME a b\n"; got != want {
		t.Errorf("%s\nprinted %q, want %q", line, got, want)
	}
	r := runner(t)
	argv := r.sshArgv(r.Config.Hosts["n2"], []string{"status"})
	socket := filepath.Join(r.Config.RunDir, "ssh", r.socketName(r.Config.Hosts["n2"]))
	want := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-o", "ControlMaster=auto", "-o", "ControlPath=" + socket, "-o", "ControlPersist=60",
		"-p", "2222", "-l", "ds", "--", "n2", "exec daemonctl --config daemonctl.yaml status"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("ssh argv = %q, want %q", argv, want)
	}
	if got := remoteCommand(r.Config.Hosts["n1"], nil); got != `cd '/opt/ds it'\''s' && PATH='/opt/ds it'\''s'/bin:'/opt/ds it'\''s':$PATH exec daemonctl --config daemonctl.yaml` {
		t.Errorf("remote command with install_path = %s", got)
	}
}

// A run_dir too deep for a socket's path moves the control sockets to a
// directory of the user's own in the temp dir; one that others can write
// is not used, and control_persist: 0 turns sharing off.
func TestControlDir(t *testing.T) {
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	dir, err := controlDir(deep)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(os.TempDir(), fmt.Sprintf("daemonctl-ssh-%d", os.Geteuid())); dir != want {
		t.Errorf("control dir for a deep run_dir = %s, want %s", dir, want)
	}
	open := t.TempDir()
	if err := os.Mkdir(filepath.Join(open, "ssh"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(open, "ssh"), 0o777)
	if _, err := controlDir(open); err == nil || !strings.Contains(err.Error(), "can be written by others") {
		t.Errorf("a world-writable control dir: %v", err)
	}
	r := runner(t)
	off := config.Duration(0)
	r.Config.SSH.ControlPersist = &off
	if argv := strings.Join(r.sshArgv(r.Config.Hosts["n2"], nil), " "); strings.Contains(argv, "Control") {
		t.Errorf("control_persist 0 still shares: %s", argv)
	}
}

// A rolling restart goes level by level across the cluster, a batch of
// hosts at a time within a level.
func TestRollPlan(t *testing.T) {
	r := runner(t)
	for size, want := range map[int]string{
		1: "n1 (registry) | n1 (master) | n2 (worker) | n3 (worker)",
		2: "n1 (registry) | n1 (master) | n2 (worker), n3 (worker)",
	} {
		if got := plan(t, r, size); got != want {
			t.Errorf("batch %d: %s, want %s", size, got, want)
		}
	}
	// max_unavailable holds whatever --batch says
	one := 1
	r.Config.Services["worker"].MaxUnavailable = &one
	if got, want := plan(t, r, 2), "n1 (registry) | n1 (master) | n2 (worker) | n3 (worker)"; got != want {
		t.Errorf("batch 2, worker max_unavailable 1: %s, want %s", got, want)
	}
}

func plan(t *testing.T, r *Runner, size int) string {
	t.Helper()
	batches, err := r.RollPlan([]string{"registry", "master", "worker"}, size)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range batches {
		got = append(got, b.String())
	}
	return strings.Join(got, " | ")
}

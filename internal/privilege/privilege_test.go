package privilege

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/inherit"
)

const asNobodyEnv = "PRIVILEGE_TEST_AS_NOBODY"

// TestNonRootMayNotAskForAnotherUser runs this test binary again as
// nobody, where asking for root must be refused with a clear error.
func TestNonRootMayNotAskForAnotherUser(t *testing.T) {
	if os.Getenv(asNobodyEnv) == "1" {
		_, err := Resolve(&config.Service{Name: "web", User: "root"}, inherit.Attrs{})
		want := "running as uid 65534: only root can start a service as another user or group"
		if err == nil || err.Error() != want {
			t.Fatalf("Resolve as nobody = %v, want %q", err, want)
		}
		if _, err := Resolve(&config.Service{Name: "web", User: "nobody"}, inherit.Attrs{}); err != nil {
			t.Fatalf("asking for oneself: %v", err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("drops to nobody: needs root (CI runs as root)")
	}
	dir, err := os.MkdirTemp("", "privilege")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // nobody must reach the binary
	bin := filepath.Join(dir, "privilege.test")
	copyFile(t, os.Args[0], bin)
	cmd := exec.Command(bin, "-test.run=^TestNonRootMayNotAskForAnotherUser$", "-test.v")
	cmd.Env = append(os.Environ(), asNobodyEnv+"=1")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

func copyFile(t *testing.T, from, to string) {
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}

func TestArgs(t *testing.T) {
	n := config.Limit(1024)
	mask := config.Umask(0o027)
	s := &config.Service{User: "nobody", Limits: &config.Limits{NoFile: &n}, Umask: &mask}
	caller := inherit.Attrs{Umask: 0o022, Limits: []inherit.Limit{{Resource: unix.RLIMIT_NOFILE, Cur: 512, Max: 4096}, {Resource: unix.RLIMIT_CORE, Cur: 0, Max: unix.RLIM_INFINITY}}}
	attrs, err := Attrs(s, &caller)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := Resolve(s, attrs)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(sp.args([]string{"/bin/sleep", "sleep", "1"}), " ")
	want := "--uid 65534 --gid 65534 --drop --groups 65534 --attrs umask=0027 nofile=1024:1024 core=0:unlimited -- /bin/sleep sleep 1"
	if got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
}

// TestNeeded: a service with no user, asked for with exactly what this
// process's children get, is launched directly; any difference needs
// the helper.
func TestNeeded(t *testing.T) {
	own, err := inherit.Children()
	if err != nil {
		t.Fatal(err)
	}
	s := &config.Service{Name: "web"}
	if Needed(s, own) {
		t.Error("same umask and limits: the helper is not needed")
	}
	if !Needed(s, own.With(unix.RLIMIT_CORE, 1, 1)) {
		t.Error("another core limit: the helper is needed")
	}
	other := own
	other.Umask ^= 0o002
	if !Needed(s, other) {
		t.Error("another umask: the helper is needed")
	}
	if !Needed(&config.Service{Name: "web", User: "nobody"}, own) {
		t.Error("another user: the helper is needed")
	}
}

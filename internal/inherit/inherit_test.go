package inherit

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const childEnv = "INHERIT_TEST_CHILD"

// TestCurrentSeesThroughTheRuntimesRaise runs this test binary under a
// shell that lowers the open-files soft limit to 123 and sets umask 0027:
// the Go runtime raises the limit at startup, yet Current must report
// what the shell gave, which is what the process's children get.
func TestCurrentSeesThroughTheRuntimesRaise(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		a, err := Current()
		if err != nil {
			t.Fatal(err)
		}
		l, _ := a.Limit(unix.RLIMIT_NOFILE)
		var own unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &own)
		fmt.Printf("umask=%04o nofile=%d own=%d\n", a.Umask, l.Cur, own.Cur)
		return
	}
	cmd := exec.Command("/bin/sh", "-c", `ulimit -Sn 123 && umask 0027 && exec "$0" -test.run='^TestCurrentSeesThroughTheRuntimesRaise$'`, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "umask=0027 nofile=123 ") {
		t.Fatalf("child reported %q, want umask 0027 and nofile 123", out)
	}
	if strings.Contains(string(out), "own=123\n") {
		t.Fatalf("the runtime did not raise the limit (%q): the test proves nothing", out)
	}
}

func TestStringParse(t *testing.T) {
	a, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	a = a.With(unix.RLIMIT_CORE, 0, unix.RLIM_INFINITY)
	b, err := Parse(a.String())
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Fatalf("Parse(String()) = %v, want %v", b, a)
	}
	if len(a.Limits) != len(resources) {
		t.Errorf("%d limits, want all %d", len(a.Limits), len(resources))
	}
	for _, bad := range []string{"umask=0999", "nofile=1", "nosuch=1:1", "nofile=x:1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestParseLimitsLine(t *testing.T) {
	data := []byte("Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max processes             96365                96365                processes \n" +
		"Max open files            1024                 unlimited            files     \n")
	cur, max, err := parseLimitsLine(data, "Max open files")
	if err != nil || cur != 1024 || max != unix.RLIM_INFINITY {
		t.Fatalf("= %d, %d, %v", cur, max, err)
	}
}

// BenchmarkCurrent is what a start command pays to learn what its
// services inherit; run it under `ulimit -Sn 1024` to include the child
// it asks when the runtime raised the open-files limit.
func BenchmarkCurrent(b *testing.B) {
	for b.Loop() {
		if _, err := Current(); err != nil {
			b.Fatal(err)
		}
	}
}

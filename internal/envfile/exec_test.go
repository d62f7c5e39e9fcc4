package envfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExecFile: an env file that runs commands is refused when parsed,
// and run with bash only when asked: it sees the variables set before it
// and nothing of this process's own environment, its output is not
// taken, and every variable it sets is.
func TestExecFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.sh")
	src := "echo noise on stdout\nexport HADOOP_CLASSPATH=`echo /opt/hadoop/lib`:$BASE\nPLAIN=plain\nLEAK=${EXEC_TEST_SECRET:-none}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXEC_TEST_SECRET", "from-this-process")
	if err := FromEnviron([]string{"BASE=b"}).LoadFile(path); err == nil || !strings.Contains(err.Error(), "env_file_exec: true for this file runs it with bash instead") {
		t.Fatalf("parsed: %v, want a refusal naming the opt-in", err)
	}
	e := FromEnviron([]string{"BASE=b", "PATH=" + os.Getenv("PATH")})
	if err := e.ExecFile(path, ""); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"HADOOP_CLASSPATH": "/opt/hadoop/lib:b", "PLAIN": "plain", "LEAK": "none", "BASE": "b"} {
		if got, _ := e.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, ok := e.Get("SHLVL"); ok {
		t.Error("bash's own SHLVL was taken")
	}
	bad := filepath.Join(t.TempDir(), "bad.sh")
	os.WriteFile(bad, []byte("echo oops >&2; exit 3\n"), 0o644)
	if err := FromEnviron(nil).ExecFile(bad, ""); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("a failing env file: %v, want its error with its stderr", err)
	}
}

package crashpoint

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// In a child: pass two points, then exit 0.
func TestMain(m *testing.M) {
	if os.Getenv("CRASHPOINT_CHILD") == "1" {
		Here("before")
		Here("at")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestHere(t *testing.T) {
	run := func(at string) error {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", EnvVar+"="+at)
		return cmd.Run()
	}
	err := run("at")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("a process told to crash at a point it reaches: %v, want killed by SIGKILL", err)
	}
	if err := run("elsewhere"); err != nil {
		t.Fatalf("a process told to crash at a point it never reaches: %v", err)
	}
	if err := run(""); err != nil {
		t.Fatalf("a process told nothing: %v", err)
	}
}

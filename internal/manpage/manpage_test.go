package manpage

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrite renders every page and checks that the commands, their
// flags and their examples are in it; man(1), where installed, must
// render the main page without complaint.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"daemonctl.1", "daemonctl-start.1", "daemonctl-stop.1", "daemonctl-status.1", "daemonctl-cluster-start.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), ".TH \"DAEMONCTL\" \"1\"") || !strings.Contains(string(b), "EXAMPLE") {
			t.Errorf("%s: no title or no examples:\n%s", page, b)
		}
	}
	for _, hidden := range []string{"daemonctl-__exec.1", "daemonctl-__supervisor.1"} {
		if _, err := os.Stat(filepath.Join(dir, hidden)); err == nil {
			t.Errorf("%s: a hidden command has a page", hidden)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "daemonctl-stop.1"))
	if !strings.Contains(string(b), "timeout") {
		t.Errorf("stop's page does not document --timeout:\n%s", b)
	}
	if _, err := exec.LookPath("man"); err == nil {
		out, err := exec.Command("man", "-l", "-P", "cat", filepath.Join(dir, "daemonctl.1")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "daemonctl") {
			t.Errorf("man -l: %v\n%s", err, out)
		}
	}
}

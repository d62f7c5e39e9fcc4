package sshlab

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A lab host answers ssh in its own network namespace, and Close leaves
// neither the namespace nor its sshd behind.
func TestHost(t *testing.T) {
	for _, tool := range []string{"ip", "ssh", "ssh-keygen", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install iproute2 openssh-server openssh-client)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("makes network namespaces: needs root (CI runs as root)")
	}
	lab, err := New(t.TempDir(), "sl")
	if err != nil {
		t.Fatal(err)
	}
	h, err := lab.AddHost("h1")
	if err != nil {
		lab.Close()
		t.Fatal(err)
	}
	h2, err := lab.AddHost("h2")
	if err != nil {
		lab.Close()
		t.Fatal(err)
	}
	// from h1, h2's sshd answers: the hosts reach one another
	args := append(lab.SSHOptions(), "--", h.Address, "cat /proc/net/dev | grep -c :; readlink /proc/self/ns/net; timeout 5 bash -c 'exec 3<>/dev/tcp/"+h2.Address+"/22; head -c 7 <&3'")
	out, err := exec.Command("ssh", args...).CombinedOutput()
	if err != nil {
		lab.Close()
		t.Fatalf("ssh %s: %v: %s", h.Address, err, out)
	}
	own, _ := os.Readlink("/proc/self/ns/net")
	if strings.Contains(string(out), own) {
		t.Errorf("the session ran in this namespace (%s), not the host's: %s", own, out)
	}
	if !strings.Contains(string(out), "SSH-2.0") {
		t.Errorf("h1 could not reach h2's sshd: %s", out)
	}
	lab.Close()
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), h.Namespace) {
		t.Errorf("namespace %s left after Close", h.Namespace)
	}
}

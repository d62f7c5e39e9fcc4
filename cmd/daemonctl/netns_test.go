package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The multi-host scenarios run each "host" in a network namespace of its
// own, joined to this one by a veth pair with link-local addresses, with
// an sshd listening inside it. The hosts share the filesystem, so each
// gets a directory ($WORK/hN) that plays its install_path, with daemonctl
// and testserver in its bin/. Abstract unix sockets belong to the network
// namespace, so each host's supervisor is its own.

// subnets hands out /30 link-local subnets, one per host, distinct within
// this test run and unlikely to meet another run's.
var subnets atomic.Int32

func init() { subnets.Store(int32(rand.IntN(12000))) }

// hosts N: create N hosts h1..hN; set HOST1..HOSTN to their addresses and
// SSH_OPTIONS to what ssh needs to reach them (as YAML flow items). Needs
// root (CI runs as root), iproute2 and sshd.
func cmdHosts(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: hosts N")
	}
	if os.Geteuid() != 0 {
		ts.Fatalf("hosts needs root (CI runs as root) to create network namespaces")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	work := ts.Getenv("WORK")
	key := filepath.Join(work, "ssh", "id")
	ts.Check(os.MkdirAll(filepath.Dir(key), 0o700))
	for _, k := range []string{key, filepath.Join(work, "ssh", "hostkey")} {
		run(ts, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k)
	}
	ts.Check(os.MkdirAll("/run/sshd", 0o755)) // sshd's privilege separation directory
	self, err := os.Executable()
	ts.Check(err)
	tag := ts.Getenv(tagVar)
	for i := 1; i <= n; i++ {
		addr := addHost(ts, fmt.Sprintf("dc%s%d", tag[:6], i), work, i)
		bin := filepath.Join(work, fmt.Sprintf("h%d", i), "bin")
		ts.Check(os.MkdirAll(bin, 0o755))
		for _, name := range []string{"daemonctl", "testserver"} {
			ts.Check(os.Symlink(self, filepath.Join(bin, name)))
		}
		ts.Setenv(fmt.Sprintf("HOST%d", i), addr)
	}
	ts.Setenv("SSH_OPTIONS", fmt.Sprintf(`"-i", %q, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"`, key))
}

// addHost creates namespace ns joined to this one, starts sshd in it for
// host i, and returns the address sshd listens on.
func addHost(ts *testscript.TestScript, ns, work string, i int) string {
	subnet := subnets.Add(1)%15900 + 64 // 169.254.0.0/24 is reserved
	outer := fmt.Sprintf("169.254.%d.%d", subnet/64, subnet%64*4+1)
	inner := fmt.Sprintf("169.254.%d.%d", subnet/64, subnet%64*4+2)
	run(ts, "ip", "netns", "add", ns)
	ts.Defer(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(ts, "ip", "link", "add", ns+"a", "type", "veth", "peer", "name", ns+"b")
	ts.Defer(func() { exec.Command("ip", "link", "del", ns+"a").Run() })
	run(ts, "ip", "link", "set", ns+"b", "netns", ns)
	run(ts, "ip", "addr", "add", outer+"/30", "dev", ns+"a")
	run(ts, "ip", "link", "set", ns+"a", "up")
	run(ts, "ip", "-n", ns, "addr", "add", inner+"/30", "dev", ns+"b")
	run(ts, "ip", "-n", ns, "link", "set", ns+"b", "up")
	run(ts, "ip", "-n", ns, "link", "set", "lo", "up")

	dir := filepath.Join(work, fmt.Sprintf("h%d", i))
	ts.Check(os.MkdirAll(dir, 0o755))
	conf := filepath.Join(dir, "sshd_config")
	ts.Check(os.WriteFile(conf, []byte(strings.Join([]string{
		"ListenAddress " + inner,
		"HostKey " + filepath.Join(work, "ssh", "hostkey"),
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(work, "ssh", "id.pub"),
		"StrictModes no",
		"UsePAM no",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"MaxStartups 100",
		"LogLevel ERROR",
		// What every session, and so every daemonctl and server it
		// starts, carries: the scenario's tag for the clean-up, and no
		// one-second sleep at exit for a race-enabled binary.
		fmt.Sprintf("SetEnv %s=%s GORACE=atexit_sleep_ms=0", tagVar, ts.Getenv(tagVar)),
	}, "\n")+"\n"), 0o644))
	sshd := exec.Command("ip", "netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f", conf)
	sshd.Env = scriptEnv(ts)
	log, err := os.Create(filepath.Join(dir, "sshd.log"))
	ts.Check(err)
	sshd.Stdout, sshd.Stderr = log, log
	sshd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	ts.Check(sshd.Start())
	go sshd.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(inner, "22"), time.Second); err == nil {
			c.Close()
			return inner
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			ts.Fatalf("sshd on %s did not listen: %s", inner, log)
		}
	}
}

func run(ts *testscript.TestScript, name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		ts.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

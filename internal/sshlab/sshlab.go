// Package sshlab makes hosts for multi-host tests and benchmarks on one
// machine: each host is a network namespace joined to the caller's by a
// veth pair with link-local addresses, with an OpenSSH server listening
// inside it that lets root in with a key the lab generates. The hosts
// share the filesystem but for root's home, which is each host's own, and
// reach one another through the caller's namespace, which routes for them;
// processes started over ssh run in the host's network namespace, so each
// has its own loopback and its own abstract unix sockets. It needs root,
// iproute2 and sshd.
package sshlab

import (
	"bytes"
	"errors"
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
)

// Lab is a set of hosts and the key that reaches them.
type Lab struct {
	// Dir holds the keys and, per host, its sshd config and log.
	Dir string
	// Key is the private key every host accepts for root.
	Key string
	// SessionEnv is set in every ssh session (sshd's SetEnv).
	SessionEnv []string
	prefix     string
	hosts      []*Host
}

// Host is one host of a lab.
type Host struct {
	Name, Namespace, Address string
	sshd                     *exec.Cmd
}

// subnets hands out /30 link-local subnets, distinct within a process
// and unlikely to meet another process's.
var subnets atomic.Int32

func init() { subnets.Store(int32(rand.IntN(12000))) }

// New makes an empty lab in dir. prefix (a few letters) starts the names
// of its namespaces and interfaces, so that concurrent labs do not meet.
func New(dir, prefix string) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("sshlab needs root to create network namespaces")
	}
	l := &Lab{Dir: dir, Key: filepath.Join(dir, "id"), prefix: prefix}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, k := range []string{l.Key, l.hostKey()} {
		if err := run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k); err != nil {
			return nil, err
		}
	}
	// Hosts reach one another (a ZooKeeper ensemble's members talk)
	// through this namespace, which routes between their links.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
		return nil, fmt.Errorf("enable forwarding between hosts: %w", err)
	}
	// sshd's privilege separation directory
	return l, os.MkdirAll("/run/sshd", 0o755)
}

func (l *Lab) hostKey() string { return filepath.Join(l.Dir, "hostkey") }

// SSHOptions are the ssh(1) options that reach the lab's hosts.
func (l *Lab) SSHOptions() []string {
	return []string{"-i", l.Key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
}

// AddHost creates host name and waits until its sshd listens.
func (l *Lab) AddHost(name string) (*Host, error) {
	subnet := subnets.Add(1)%15900 + 64 // 169.254.0.0/24 is reserved
	outer := fmt.Sprintf("169.254.%d.%d", subnet/64, subnet%64*4+1)
	h := &Host{Name: name, Namespace: fmt.Sprintf("%s%d", l.prefix, len(l.hosts)+1), Address: fmt.Sprintf("169.254.%d.%d", subnet/64, subnet%64*4+2)}
	l.hosts = append(l.hosts, h)
	ns, veth := h.Namespace, h.Namespace+"a"
	for _, argv := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", veth, "type", "veth", "peer", "name", ns + "b"},
		{"ip", "link", "set", ns + "b", "netns", ns},
		{"ip", "addr", "add", outer + "/30", "dev", veth},
		{"ip", "link", "set", veth, "up"},
		{"ip", "-n", ns, "addr", "add", h.Address + "/30", "dev", ns + "b"},
		{"ip", "-n", ns, "link", "set", ns + "b", "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		// the hosts reach one another through this one, as on a LAN
		{"ip", "-n", ns, "route", "add", "default", "via", outer},
	} {
		if err := run(argv[0], argv[1:]...); err != nil {
			return nil, fmt.Errorf("host %s: %w", name, err)
		}
	}
	return h, l.startSSHD(h)
}

func (l *Lab) startSSHD(h *Host) error {
	conf := filepath.Join(l.Dir, h.Name+".sshd_config")
	lines := []string{
		"ListenAddress " + h.Address,
		"HostKey " + l.hostKey(),
		"PidFile " + filepath.Join(l.Dir, h.Name+".sshd.pid"),
		"AuthorizedKeysFile " + l.Key + ".pub",
		"StrictModes no",
		"UsePAM no",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"MaxStartups 100",
		"LogLevel INFO",                // "Accepted publickey" lines count connections
		"Subsystem sftp internal-sftp", // for scp and Ansible's file transfers
	}
	if len(l.SessionEnv) > 0 {
		lines = append(lines, "SetEnv "+strings.Join(l.SessionEnv, " "))
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	logPath := filepath.Join(l.Dir, h.Name+".sshd.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	// Each host gets a home of its own for root, mounted over /root in
	// the mount namespace `ip netns exec` makes: a separate machine would
	// not share this one's shell start-up files (which ssh sessions run).
	home := filepath.Join(l.Dir, h.Name+".home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	h.sshd = exec.Command("ip", "netns", "exec", h.Namespace, "/bin/sh", "-c", `mount --bind "$1" /root && exec /usr/sbin/sshd -D -e -f "$2"`, "sh", home, conf)
	h.sshd.Stdout, h.sshd.Stderr = log, log
	h.sshd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := h.sshd.Start(); err != nil {
		return fmt.Errorf("host %s: sshd: %w", h.Name, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(h.Address, "22"), time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("host %s: sshd on %s did not listen: %s", h.Name, h.Address, out)
		}
	}
}

// Close ends every host: its sshd, whatever else runs in its namespace,
// the namespace and its link.
func (l *Lab) Close() {
	for _, h := range l.hosts {
		if h.sshd != nil && h.sshd.Process != nil {
			h.sshd.Process.Kill()
			h.sshd.Wait()
		}
		if pids, err := exec.Command("ip", "netns", "pids", h.Namespace).Output(); err == nil {
			for _, p := range strings.Fields(string(pids)) {
				var pid int
				fmt.Sscan(p, &pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "link", "del", h.Namespace+"a").Run()
		exec.Command("ip", "netns", "del", h.Namespace).Run()
	}
	l.hosts = nil
}

func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// EndConnections ends the ssh connections kept open (ControlPersist) with
// their sockets under dir, and waits until they are gone. A master
// retitles itself "ssh: SOCKET [mux]" over its argv and environment, so
// that is what finds it.
func EndConnections(dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if !bytes.HasPrefix(cmdline, []byte("ssh: "+dir+"/")) {
			continue
		}
		syscall.Kill(pid, syscall.SIGKILL)
		for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
}

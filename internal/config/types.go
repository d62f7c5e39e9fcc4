package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"golang.org/x/sys/unix"
)

// Config is a whole daemonctl.yaml, with defaults applied and every
// relative path made absolute against the config file's directory.
type Config struct {
	Path    string `yaml:"-"` // absolute path of the config file
	Dir     string `yaml:"-"` // its directory
	RunDir  string `yaml:"run_dir"`
	LogDir  string `yaml:"log_dir"`
	EnvFile string `yaml:"env_file"`
	// EnvFileExec runs EnvFile with bash instead of parsing it (it runs
	// commands the operator vouches for).
	EnvFileExec bool                `yaml:"env_file_exec"`
	Env         Vars                `yaml:"env"`
	Services    map[string]*Service `yaml:"services"`
	Hosts       map[string]*Host    `yaml:"hosts"`
	SSH         SSH                 `yaml:"ssh"`

	// Order lists the services in the order the file declares them.
	Order []string `yaml:"-"`
	// HostOrder lists the hosts in the order the file declares them.
	HostOrder []string `yaml:"-"`
}

// Service is one server that daemonctl starts, stops and watches.
type Service struct {
	Name        string    `yaml:"-"`
	Command     Command   `yaml:"command"`
	Dir         string    `yaml:"dir"`
	EnvFile     string    `yaml:"env_file"`
	EnvFileExec bool      `yaml:"env_file_exec"` // run EnvFile with bash instead of parsing it
	Env         Vars      `yaml:"env"`
	EnvCopyTo   string    `yaml:"env_copy_to"`
	PidFile     string    `yaml:"pid_file"`
	LogFile     string    `yaml:"log_file"`
	StopSignal  Signal    `yaml:"stop_signal"`
	StopTimeout *Duration `yaml:"stop_timeout"` // 0: SIGKILL right after the stop signal
	StartGrace  *Duration `yaml:"start_grace"`
	DependsOn   []string  `yaml:"depends_on"`
	Ready       *Ready    `yaml:"ready"`
	Liveness    *Liveness `yaml:"liveness"`
	// Shared marks infrastructure other services need (a ZooKeeper):
	// commands on all services leave it running (only naming it stops or
	// restarts it), and one that another process already provides (its
	// port held by that process, its probe passing) is used, not started.
	Shared bool `yaml:"shared"`
	// StartWithAll false leaves the service out of a start of all
	// services (a standalone server beside the cluster's); naming it, or
	// a named service depending on it, starts it.
	StartWithAll *bool         `yaml:"start_with_all"`
	Restart      RestartPolicy `yaml:"restart"`
	// RestartDelay is the first restart backoff; it doubles up to a minute.
	RestartDelay *Duration `yaml:"restart_delay"` // 0: restart at once
	// RestartLimit is how many quick deaths in a row mark a service failed.
	RestartLimit *int `yaml:"restart_limit"`
	// MaxUnavailable bounds how many of the service's hosts a rolling
	// cluster restart takes down at once, whatever --batch says: 1 for a
	// 3-node ZooKeeper ensemble, which keeps its quorum so.
	MaxUnavailable *int     `yaml:"max_unavailable"`
	LogMaxSize     *Size    `yaml:"log_max_size"`
	LogMaxFiles    *int     `yaml:"log_max_files"`
	LogTimestamps  bool     `yaml:"log_timestamps"`
	OnExit         []string `yaml:"on_exit"`
	// User and Group run the service as another user (by name or number);
	// Group defaults to the user's primary group.
	User   string  `yaml:"user"`
	Group  string  `yaml:"group"`
	Limits *Limits `yaml:"limits"`
	// Umask is the service's file mode creation mask; unset, it is the
	// umask of the command that started it.
	Umask *Umask `yaml:"umask"`
}

// Umask is a file mode creation mask, written in octal as umask(1) and
// systemd's UMask= take it: 0027, 022, "0077".
type Umask uint32

func (u *Umask) decodeScalar(s string) error {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("bad umask %q (want octal, 0000 to 0777, such as 0022)", s)
	}
	*u = Umask(v)
	return nil
}

// Limits are resource limits (setrlimit(2)) set for the service.
type Limits struct {
	NoFile *Limit `yaml:"nofile"`
	NProc  *Limit `yaml:"nproc"`
	Core   *Limit `yaml:"core"`
}

// Limit is a resource limit: a number, or "unlimited".
type Limit uint64

// Unlimited is RLIM_INFINITY.
const Unlimited = Limit(^uint64(0))

func (l *Limit) decodeScalar(s string) error {
	v, err := ParseLimit(s)
	*l = v
	return err
}

// ParseLimit reads a resource limit: a number, or "unlimited".
func ParseLimit(s string) (Limit, error) {
	if s == "unlimited" || s == "infinity" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad limit %q (want a number or unlimited)", s)
	}
	return Limit(v), nil
}

// String renders the limit as ulimit(1) does.
func (l Limit) String() string {
	if l == Unlimited {
		return "unlimited"
	}
	return strconv.FormatUint(uint64(l), 10)
}

// Ready is a readiness probe: exactly one of TCP, HTTP, Exec or Log.
type Ready struct {
	TCP  string   `yaml:"tcp"`
	HTTP string   `yaml:"http"`
	Exec []string `yaml:"exec"`
	Log  string   `yaml:"log"`
	// Send, with tcp, is written once connected; Expect, with tcp, is a
	// pattern the server's answer must match (ZooKeeper's "srvr" answered
	// "Mode: leader", redis's "PING" answered "+PONG").
	Send    string   `yaml:"send" json:",omitempty"`
	Expect  string   `yaml:"expect" json:",omitempty"`
	Timeout Duration `yaml:"timeout"`

	// LogPattern is Log compiled, ExpectPattern Expect.
	LogPattern    *regexp.Regexp `yaml:"-"`
	ExpectPattern *regexp.Regexp `yaml:"-" json:"-"`
}

// Liveness is a probe the supervisor runs while the service runs, once it
// is ready: FailureThreshold failures in a row mean the server is hung.
// It takes the same probe kinds as Ready.
type Liveness struct {
	TCP              string   `yaml:"tcp"`
	HTTP             string   `yaml:"http"`
	Exec             []string `yaml:"exec"`
	Log              string   `yaml:"log"`
	Send             string   `yaml:"send"`
	Expect           string   `yaml:"expect"`
	Interval         Duration `yaml:"interval"`
	Timeout          Duration `yaml:"timeout"`
	FailureThreshold int      `yaml:"failure_threshold"`

	// Check is the probe as a Ready, which package probe runs; set when
	// the config is validated.
	Check *Ready `yaml:"-"`
}

// LocalPort is the TCP port on this host that a tcp or http probe
// targets (a loopback or unspecified address, or localhost), 0 for any
// other probe.
func (r *Ready) LocalPort() int {
	hostPort := r.TCP
	if r.HTTP != "" {
		u, err := url.Parse(r.HTTP)
		if err != nil {
			return 0
		}
		hostPort = u.Host
		if u.Port() == "" {
			hostPort = net.JoinHostPort(u.Hostname(), map[string]string{"https": "443"}[u.Scheme]+map[string]string{"http": "80"}[u.Scheme])
		}
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return 0
	}
	if ip := net.ParseIP(host); host != "localhost" && host != "" && (ip == nil || !(ip.IsLoopback() || ip.IsUnspecified())) {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

// probeKind is one kind of readiness probe as the config spells it: its
// key, and its target when this Ready sets it. A new probe kind is a
// field above, a line here, and its check in package probe.
type probeKind struct {
	name   string
	target string
}

func (r *Ready) kinds() []probeKind {
	return []probeKind{
		{"tcp", r.TCP},
		{"http", r.HTTP},
		{"exec", strings.Join(r.Exec, " ")},
		{"log", r.Log},
	}
}

// Kind names the probe: "tcp", "http", "exec" or "log".
func (r *Ready) Kind() string {
	for _, k := range r.kinds() {
		if k.target != "" {
			return k.name
		}
	}
	return ""
}

// Target is what the probe looks at: an address, URL, command or pattern.
func (r *Ready) Target() string {
	for _, k := range r.kinds() {
		if k.target != "" {
			return k.target
		}
	}
	return ""
}

// String names the probe for messages: its kind and target, and what a
// tcp probe expects ("tcp 127.0.0.1:2181 expect \"Mode: leader\"").
func (r *Ready) String() string {
	s := r.Kind() + " " + r.Target()
	if r.Expect != "" {
		s += fmt.Sprintf(" expect %q", r.Expect)
	}
	return s
}

// Host is a machine that `cluster` commands reach over OpenSSH.
type Host struct {
	Name        string   `yaml:"-"`
	Address     string   `yaml:"address"`
	Port        int      `yaml:"port"`
	User        string   `yaml:"user"`
	Services    []string `yaml:"services"`
	InstallPath string   `yaml:"install_path"`
	Binary      string   `yaml:"binary"`
	Config      string   `yaml:"config"`
}

// SSH holds the settings shared by every ssh connection.
type SSH struct {
	Parallel       int      `yaml:"parallel"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	Options        []string `yaml:"options"`
	// ControlPersist is how long the one connection a cluster command
	// opens to each host (OpenSSH's ControlMaster) stays open after the
	// command, for the next one to reuse; 0 opens a connection per step.
	ControlPersist *Duration `yaml:"control_persist"`
}

// Var is one environment variable assignment from the config.
type Var struct {
	Key, Value string
}

// Vars is an ordered list of assignments: later values may refer to
// earlier ones, so the file's order is kept.
type Vars []Var

func (vs *Vars) decodeNode(d *decoder, n ast.Node, path string) error {
	pairs, err := d.mapping(n, path)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		key := p.Key.GetToken().Value
		if !validEnvName(key) {
			return d.errorf(p.Key, path, "invalid variable name %q", key)
		}
		var value string
		if err := d.decode(p.Value, reflectValue(&value), join(path, key)); err != nil {
			return err
		}
		*vs = append(*vs, Var{key, value})
	}
	return nil
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Command is how a service is run: an argv list run directly, or a string
// run by /bin/sh -c.
type Command struct {
	Argv  []string
	Shell bool // Argv is ["/bin/sh", "-c", string]
}

// String renders the command for humans.
func (c Command) String() string {
	if c.Shell {
		return c.Argv[2]
	}
	return strings.Join(c.Argv, " ")
}

func (c *Command) decodeNode(d *decoder, n ast.Node, path string) error {
	if _, ok := n.(*ast.SequenceNode); ok {
		if err := d.decode(n, reflectValue(&c.Argv), path); err != nil {
			return err
		}
		if len(c.Argv) == 0 || c.Argv[0] == "" {
			return d.errorf(n, path, "empty command")
		}
		return nil
	}
	s, err := d.scalar(n, path)
	if err != nil {
		return d.errorf(n, path, "want a list of arguments or a shell command string, got %s", kindName(n))
	}
	if s == nil || strings.TrimSpace(*s) == "" {
		return d.errorf(n, path, "empty command")
	}
	c.Argv, c.Shell = []string{"/bin/sh", "-c", *s}, true
	return nil
}

// Duration is a time.Duration written as "30s", "1m30s" or "500ms".
type Duration time.Duration

func (du *Duration) decodeScalar(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. 30s, 1m, 500ms)", s)
	}
	if v < 0 {
		return fmt.Errorf("bad duration %q: negative", s)
	}
	*du = Duration(v)
	return nil
}

// Std returns the duration as a time.Duration.
func (du Duration) Std() time.Duration { return time.Duration(du) }

// Size is a byte count written as "100MB" or "100MiB"; units are powers of 1024.
type Size int64

func (sz *Size) decodeScalar(s string) error {
	v, err := ParseSize(s)
	if err != nil {
		return err
	}
	*sz = Size(v)
	return nil
}

var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
	"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
	"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30,
	"T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40,
}

// String renders the size in the largest unit it fills, to two decimals
// at most, as ParseSize reads it: "100MiB", "1.5GiB", "512B".
func (sz Size) String() string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if int64(sz) >= u.n {
			v := strconv.FormatFloat(float64(sz)/float64(u.n), 'f', 2, 64)
			return strings.TrimSuffix(strings.TrimRight(v, "0"), ".") + u.name
		}
	}
	return strconv.FormatInt(int64(sz), 10) + "B"
}

// ParseSize reads "100MB", "1.5GiB", "512k" or "0"; units are powers of 1024.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	}
	mult, ok := sizeUnits[unit]
	f, err := strconv.ParseFloat(num, 64)
	switch bytes := f * float64(mult); {
	case !ok || err != nil || f < 0:
		return 0, fmt.Errorf("bad size %q (want e.g. 100MB, 1GiB, 0)", s)
	case bytes >= 1<<62:
		return 0, fmt.Errorf("size %q is too large", s)
	case f > 0 && bytes < 1:
		return 0, fmt.Errorf("size %q is less than a byte (0 means never; want e.g. 512KB)", s)
	}
	return int64(f * float64(mult)), nil
}

// Signal is a signal written by name ("TERM", "SIGTERM") or number.
type Signal unix.Signal

func (sg *Signal) decodeScalar(s string) error {
	v, err := ParseSignal(s)
	if err != nil {
		return err
	}
	*sg = Signal(v)
	return nil
}

// ParseSignal reads a signal name with or without the SIG prefix, or a number.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("bad signal name %q (want e.g. TERM, INT, QUIT)", s)
}

// String is the signal's short name, e.g. "TERM".
func (sg Signal) String() string {
	return strings.TrimPrefix(unix.SignalName(unix.Signal(sg)), "SIG")
}

// RestartPolicy says when a service that exited is started again.
type RestartPolicy string

// The restart policies.
const (
	RestartNever     RestartPolicy = "never"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartAlways    RestartPolicy = "always"
)

func (p *RestartPolicy) decodeScalar(s string) error {
	switch v := RestartPolicy(s); v {
	case RestartNever, RestartOnFailure, RestartAlways:
		*p = v
		return nil
	}
	return fmt.Errorf("bad restart policy %q (want never, on-failure or always)", s)
}

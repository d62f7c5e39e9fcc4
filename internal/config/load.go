// Package config owns daemonctl.yaml: its schema, strict decoding with
// errors that name file, line, column and key, defaults, path resolution
// and the dependency graph between services.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Defaults for keys a config leaves out.
const (
	DefaultStopTimeout  = 10 * time.Second
	DefaultReadyTimeout = 60 * time.Second

	DefaultLivenessInterval  = 10 * time.Second
	DefaultLivenessTimeout   = 5 * time.Second
	DefaultLivenessThreshold = 3
	DefaultStartGrace        = time.Second
	DefaultLogMaxSize        = 100 << 20
	DefaultLogMaxFiles       = 5
	DefaultRestartDelay      = time.Second
	DefaultRestartLimit      = 5
	DefaultSSHParallel       = 10
	DefaultSSHTimeout        = 10 * time.Second
	DefaultControlPersist    = 60 * time.Second
)

// EnvVar names the variable that points daemonctl at its config file.
const EnvVar = "DAEMONCTL_CONFIG"

// Load reads, decodes and validates the config file at path.
func Load(path string) (*Config, error) {
	src, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// ReadFile reads the config file at path for Parse, which refuses one
// past MaxSize: one byte past the limit is enough to refuse a file of any
// size.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return src, nil
}

// Parse decodes and validates src as the config file at path. Relative
// paths in it resolve against path's directory.
func Parse(path string, src []byte) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config path %s: %w", path, err)
	}
	if err := checkShape(path, src); err != nil {
		return nil, err
	}
	file, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, syntaxError(path, err)
	}
	d := &decoder{file: path, anchors: map[string]ast.Node{}, order: map[string][]string{}}
	c := &Config{Path: abs, Dir: filepath.Dir(abs)}
	var root ast.Node = &ast.NullNode{}
	if len(file.Docs) > 1 {
		return nil, &Error{File: path, Message: "want one YAML document, found several"}
	}
	if len(file.Docs) == 1 && file.Docs[0].Body != nil {
		root = file.Docs[0].Body
	}
	if err := d.decode(root, reflect.ValueOf(c).Elem(), ""); err != nil {
		return nil, err
	}
	c.Order, c.HostOrder = d.order["services"], d.order["hosts"]
	v := &validator{d: d, root: root}
	c.ApplyDefaults()
	v.check(c)
	return c, v.err
}

func syntaxError(path string, err error) error {
	type positioned interface {
		GetMessage() string
	}
	var e interface {
		positioned
		error
	}
	if errors.As(err, &e) {
		// goccy's message starts with "[line:col] message".
		msg := e.Error()
		line, col := 0, 0
		if _, scanErr := fmt.Sscanf(msg, "[%d:%d]", &line, &col); scanErr == nil {
			return &Error{File: path, Line: line, Column: col, Message: "yaml: " + e.GetMessage()}
		}
	}
	return &Error{File: path, Message: "yaml: " + err.Error()}
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

func (c *Config) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// ApplyDefaults fills what the file left out: paths made absolute,
// defaults where a key is missing. Parse calls it; so does a config
// decoded from a copy that left out what equals its default
// (configcache). Calling it again changes nothing.
func (c *Config) ApplyDefaults() {
	c.RunDir = c.abs(orDefault(c.RunDir, "run"))
	c.LogDir = c.abs(orDefault(c.LogDir, "logs"))
	c.EnvFile = c.abs(c.EnvFile)
	if c.SSH.Parallel <= 0 {
		c.SSH.Parallel = DefaultSSHParallel
	}
	if c.SSH.ConnectTimeout == 0 {
		c.SSH.ConnectTimeout = Duration(DefaultSSHTimeout)
	}
	setDefault(&c.SSH.ControlPersist, Duration(DefaultControlPersist))
	for name, s := range c.Services {
		if s == nil {
			s = &Service{}
			c.Services[name] = s
		}
		c.serviceDefaults(name, s)
	}
	for name, h := range c.Hosts {
		if h == nil {
			h = &Host{}
			c.Hosts[name] = h
		}
		h.Name = name
		if h.Address == "" {
			h.Address = name
		}
	}
}

// serviceDefaults fills what service name's entry left out.
func (c *Config) serviceDefaults(name string, s *Service) {
	s.Name = name
	s.Dir = c.abs(orDefault(s.Dir, "."))
	s.EnvFile = c.abs(s.EnvFile)
	s.EnvCopyTo = c.abs(s.EnvCopyTo)
	s.PidFile = c.abs(withHostname(orDefault(s.PidFile, filepath.Join(c.RunDir, name+".pid"))))
	s.LogFile = c.abs(withHostname(orDefault(s.LogFile, filepath.Join(c.LogDir, name+".out"))))
	setDefault(&s.StartWithAll, true)
	if s.StopSignal == 0 {
		s.StopSignal = Signal(15)
	}
	setDefault(&s.StopTimeout, Duration(DefaultStopTimeout))
	setDefault(&s.StartGrace, Duration(DefaultStartGrace))
	if l := s.Liveness; l != nil {
		l.Interval = cmp.Or(l.Interval, Duration(DefaultLivenessInterval))
		l.Timeout = cmp.Or(l.Timeout, Duration(DefaultLivenessTimeout))
		l.FailureThreshold = cmp.Or(l.FailureThreshold, DefaultLivenessThreshold)
		l.Check = &Ready{TCP: l.TCP, HTTP: l.HTTP, Exec: l.Exec, Log: l.Log, Send: l.Send, Expect: l.Expect, Timeout: l.Timeout}
	}
	if s.Ready != nil && s.Ready.Timeout == 0 {
		s.Ready.Timeout = Duration(DefaultReadyTimeout)
	}
	if s.Restart == "" {
		s.Restart = RestartNever
	}
	setDefault(&s.RestartDelay, Duration(DefaultRestartDelay))
	setDefault(&s.RestartLimit, DefaultRestartLimit)
	setDefault(&s.LogMaxSize, Size(DefaultLogMaxSize))
	setDefault(&s.LogMaxFiles, DefaultLogMaxFiles)
}

// setDefault points an optional key left out at its default; a key set,
// even to zero, keeps its value.
func setDefault[T any](p **T, def T) {
	if *p == nil {
		*p = &def
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// validator checks what decoding cannot: references, cycles and
// cross-field rules. It keeps the first error, positioned at its key.
type validator struct {
	d    *decoder
	root ast.Node
	err  error
}

// validServiceName: letters, digits, '.', '_', '-', not starting with
// one of the last three. (Not a regexp: compiled at init, it cost every
// command, status included, more than the checks it makes.)
func validServiceName(s string) bool {
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '.' && r != '_' && r != '-') {
			return false
		}
	}
	return s != ""
}

// MaxServiceName is the longest service name: NAME.state's temporary
// file, .NAME.state.tmpNNNNNNNNN, must fit in a file name's 255 bytes.
const MaxServiceName = 128

// reservedNames are taken by the supervisor's own files in run_dir.
var reservedNames = map[string]bool{"supervisor": true}

func (v *validator) fail(at []string, format string, args ...any) {
	if v.err != nil {
		return
	}
	// The path names what holds the culprit: the mapping that has the
	// key, or the list that has the item.
	parent := at[:len(at)-1]
	if list, _, isItem := strings.Cut(at[len(at)-1], "["); isItem {
		parent = append(parent[:len(parent):len(parent)], list)
	}
	v.err = v.d.errorf(v.node(at), strings.Join(parent, "."), format, args...)
}

// node finds the AST node at a key path ("depends_on[1]" indexes a
// list), for error positions: the last key itself, or the list item.
func (v *validator) node(at []string) ast.Node {
	n := v.root
	for i, key := range at {
		last := i == len(at)-1
		idx := -1
		if j := strings.IndexByte(key, '['); j >= 0 {
			fmt.Sscanf(key[j:], "[%d]", &idx)
			key = key[:j]
		}
		m, ok := v.d.resolve(n).(*ast.MappingNode)
		if !ok {
			return n
		}
		found := false
		for _, p := range m.Values {
			if p.Key.GetToken().Value == key {
				n, found = p.Value, true
				if last && idx < 0 {
					n = p.Key
				}
				break
			}
		}
		if !found {
			return n
		}
		if seq, ok := v.d.resolve(n).(*ast.SequenceNode); ok && idx >= 0 && idx < len(seq.Values) {
			n = seq.Values[idx]
		}
	}
	return n
}

func (v *validator) check(c *Config) {
	if len(c.Services) == 0 {
		v.err = &Error{File: v.d.file, Message: "no services defined"}
		return
	}
	pidFiles, logFiles := map[string]string{}, map[string]string{}
	for _, name := range c.Order {
		s := c.Services[name]
		v.checkService(c, s)
		// Two services on one pid file remove each other's; on one log,
		// rotate each other's.
		for _, f := range []struct {
			key, path string
			seen      map[string]string
		}{{"pid_file", s.PidFile, pidFiles}, {"log_file", s.LogFile, logFiles}} {
			if other, ok := f.seen[f.path]; ok {
				v.fail([]string{"services", name, f.key}, "%s %s is %s's too: each service needs its own", f.key, f.path, other)
			}
			f.seen[f.path] = name
		}
	}
	if cycle := c.findCycle(); cycle != nil {
		v.fail([]string{"services", cycle[0], "depends_on"}, "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	for _, name := range c.HostOrder {
		h := c.Hosts[name]
		// ssh(1) would read a leading "-" as an option (-oProxyCommand=
		// runs a command here); install_env.sh, where init reads hosts
		// from, may be writable by the deploy user.
		for key, value := range map[string]string{"address": h.Address, "user": h.User} {
			if strings.HasPrefix(value, "-") {
				v.fail([]string{"hosts", name, key}, "%s %q starts with \"-\", which ssh would take for an option: refused", key, value)
			}
		}
		for i, s := range h.Services {
			if _, ok := c.Services[s]; !ok {
				v.fail([]string{"hosts", name, fmt.Sprintf("services[%d]", i)}, "unknown service %q", s)
			}
		}
	}
}

func (v *validator) checkService(c *Config, s *Service) {
	at := func(keys ...string) []string { return append([]string{"services", s.Name}, keys...) }
	switch {
	case !validServiceName(s.Name):
		v.fail([]string{"services", s.Name}, "bad service name %q (letters, digits, '.', '_', '-')", s.Name)
	case len(s.Name) > MaxServiceName:
		v.fail([]string{"services", s.Name}, "service name of %d characters: at most %d (its files' names must fit in 255)", len(s.Name), MaxServiceName)
	case reservedNames[s.Name]:
		v.fail([]string{"services", s.Name}, "service name %q is daemonctl's own (its supervisor's files in run_dir): choose another", s.Name)
	}
	if s.Command.Argv == nil {
		v.fail([]string{"services", s.Name}, "missing key \"command\"")
	}
	for i, dep := range s.DependsOn {
		if _, ok := c.Services[dep]; !ok {
			v.fail(at(fmt.Sprintf("depends_on[%d]", i)), "unknown service %q in depends_on", dep)
		} else if dep == s.Name {
			v.fail(at(fmt.Sprintf("depends_on[%d]", i)), "service depends on itself")
		}
	}
	if s.MaxUnavailable != nil && *s.MaxUnavailable < 1 {
		v.fail(at("max_unavailable"), "max_unavailable must be at least 1 (a rolling restart must take some host down)")
	}
	if *s.RestartLimit < 1 {
		v.fail(at("restart_limit"), "restart_limit must be at least 1 (to never restart, say restart: never)")
	}
	if err := checkLogFile(s); err != nil {
		v.fail(at("log_file"), "%v", err)
	}
	if *s.LogMaxFiles < 0 {
		v.fail(at("log_max_files"), "must not be negative")
	}
	if s.Ready != nil {
		v.checkReady(at("ready"), s.Ready)
	}
	if l := s.Liveness; l != nil {
		v.checkReady(at("liveness"), l.Check)
		if l.FailureThreshold < 1 {
			v.fail(at("liveness", "failure_threshold"), "must be at least 1")
		}
	}
}

// checkLogFile is the check whose answer depends on the filesystem, not
// on the file: a log_file path that names a directory or a device.
func checkLogFile(s *Service) error {
	if s.LogFile == "" {
		return nil
	}
	if fi, err := os.Stat(s.LogFile); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("log_file %s is not a regular file (%s): a log cannot be written there", s.LogFile, fi.Mode().Type())
	}
	return nil
}

// CheckLogFiles makes again the one check of Parse whose answer depends
// on the filesystem rather than on the file: no log_file names a
// directory or a device. A config parsed earlier (and cached, see package
// configcache) needs it before it is used again; an error means it is to
// be parsed afresh, for the error's position.
func (c *Config) CheckLogFiles() error {
	for _, name := range c.Order {
		if err := checkLogFile(c.Services[name]); err != nil {
			return err
		}
	}
	return nil
}

// CompilePatterns compiles the probes' patterns of a config decoded from
// anything but its YAML (a cache entry), where they are not kept.
func (c *Config) CompilePatterns() error {
	for _, name := range c.Order {
		s := c.Services[name]
		probes := []*Ready{s.Ready}
		if s.Liveness != nil {
			probes = append(probes, s.Liveness.Check)
		}
		for _, r := range probes {
			if r == nil {
				continue
			}
			if logErr, expectErr := r.compile(); logErr != nil || expectErr != nil {
				return errors.Join(logErr, expectErr)
			}
		}
	}
	return nil
}

// compile sets the probe's patterns from Log and Expect, and says what is
// wrong with each.
func (r *Ready) compile() (logErr, expectErr error) {
	r.LogPattern, r.ExpectPattern = nil, nil
	if r.Log != "" {
		r.LogPattern, logErr = regexp.Compile(r.Log)
	}
	if r.Expect != "" {
		r.ExpectPattern, expectErr = regexp.Compile(r.Expect)
	}
	return logErr, expectErr
}

func (v *validator) checkReady(at []string, r *Ready) {
	logErr, expectErr := r.compile()
	var kinds []string
	for _, k := range r.kinds() {
		if k.target != "" {
			kinds = append(kinds, k.name)
		}
	}
	switch {
	case len(kinds) == 0:
		v.fail(at, "no probe: set one of tcp, http, exec, log")
	case len(kinds) > 1:
		v.fail(at, "more than one probe kind (%s): set exactly one", strings.Join(sortedCopy(kinds), ", "))
	}
	if logErr != nil {
		v.fail(append(at, "log"), "bad regular expression: %v", logErr)
	}
	if (r.Send != "" || r.Expect != "") && r.TCP == "" {
		v.fail(at, "send and expect go with a tcp probe")
	}
	if expectErr != nil {
		v.fail(append(at, "expect"), "bad regular expression: %v", expectErr)
	}
	if r.HTTP != "" && !strings.HasPrefix(r.HTTP, "http://") && !strings.HasPrefix(r.HTTP, "https://") {
		v.fail(append(at, "http"), "want an http:// or https:// URL, got %q", r.HTTP)
	}
}

// HostnameVar in a pid_file or log_file path is replaced by this host's
// name when the config is loaded, so that one config copied to every
// host names each host's own files (DolphinScheduler's logs are
// <server>-$(hostname).out).
const HostnameVar = "${HOSTNAME}"

func withHostname(path string) string {
	if !strings.Contains(path, HostnameVar) {
		return path
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return strings.ReplaceAll(path, HostnameVar, host)
}

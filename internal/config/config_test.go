package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"ssh option as address", "services:\n  web: {command: [x]}\nhosts:\n  h1:\n    address: -oProxyCommand=touch /tmp/pwned\n",
			`c.yaml:5:5: hosts.h1: address "-oProxyCommand=touch /tmp/pwned" starts with "-", which ssh would take for an option: refused`},
		{"ssh option as user", "services:\n  web: {command: [x]}\nhosts:\n  h1:\n    user: -oProxyCommand=x\n",
			`c.yaml:5:5: hosts.h1: user "-oProxyCommand=x" starts with "-", which ssh would take for an option: refused`},
		{"the supervisor's name", "services:\n  supervisor: {command: [x]}\n",
			`c.yaml:2:3: services: service name "supervisor" is daemonctl's own (its supervisor's files in run_dir): choose another`},
		{"a name too long for its files", "services:\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: {command: [x]}\n",
			`c.yaml:2:3: services: service name of 129 characters: at most 128 (its files' names must fit in 255)`},
		{"one pid file for two", "services:\n  a: {command: [x], pid_file: /srv/p}\n  b: {command: [x], pid_file: /srv/p}\n",
			`c.yaml:3:21: services.b: pid_file /srv/p is a's too: each service needs its own`},
		{"one log for two", "services:\n  a: {command: [x], log_file: /srv/l}\n  b: {command: [x], log_file: /srv/l}\n",
			`c.yaml:3:21: services.b: log_file /srv/l is a's too: each service needs its own`},
		{"restart_limit 0", "services:\n  web: {command: [x], restart_limit: 0}\n",
			`c.yaml:2:23: services.web: restart_limit must be at least 1 (to never restart, say restart: never)`},
		{"a size that overflows", "services:\n  web: {command: [x], log_max_size: 99999999999TB}\n",
			`c.yaml:2:37: services.web.log_max_size: size "99999999999TB" is too large`},
		{"a fraction of a byte", "services:\n  web: {command: [x], log_max_size: 0.5}\n",
			`c.yaml:2:37: services.web.log_max_size: size "0.5" is less than a byte (0 means never; want e.g. 512KB)`},
		{"liveness without a probe", "services:\n  web: {command: [x], liveness: {interval: 1s}}\n",
			`c.yaml:2:23: services.web: no probe: set one of tcp, http, exec, log`},
		{"bad umask", "services:\n  web: {command: [x], umask: 0999}\n",
			`c.yaml:2:30: services.web.umask: bad umask "0999" (want octal, 0000 to 0777, such as 0022)`},
		{"unknown key", "services:\n  web:\n    comand: [x]\n",
			`c.yaml:3:5: services.web: unknown key "comand" (did you mean "command"?)`},
		{"unknown top key", "servics:\n  web: {command: [x]}\n",
			`c.yaml:1:1: unknown key "servics" (did you mean "services"?)`},
		{"wrong type", "services:\n  web:\n    command: [x]\n    depends_on: db\n",
			`c.yaml:4:17: services.web.depends_on: want a list, got a string`},
		{"bad duration", "services:\n  web:\n    command: [x]\n    stop_timeout: 5 seconds\n",
			`c.yaml:4:19: services.web.stop_timeout: bad duration "5 seconds" (want e.g. 30s, 1m, 500ms)`},
		{"bad signal", "services:\n  web:\n    command: [x]\n    stop_signal: TREM\n",
			`c.yaml:4:18: services.web.stop_signal: bad signal name "TREM" (want e.g. TERM, INT, QUIT)`},
		{"bad size", "services:\n  web:\n    command: [x]\n    log_max_size: lots\n",
			`c.yaml:4:19: services.web.log_max_size: bad size "lots" (want e.g. 100MB, 1GiB, 0)`},
		{"bad restart", "services:\n  web:\n    command: [x]\n    restart: sometimes\n",
			`c.yaml:4:14: services.web.restart: bad restart policy "sometimes" (want never, on-failure or always)`},
		{"unknown dep", "services:\n  web:\n    command: [x]\n    depends_on: [db]\n",
			`c.yaml:4:18: services.web.depends_on: unknown service "db" in depends_on`},
		{"self dep", "services:\n  web:\n    command: [x]\n    depends_on: [web]\n",
			`c.yaml:4:18: services.web.depends_on: service depends on itself`},
		{"cycle", "services:\n  a:\n    command: [x]\n    depends_on: [b]\n  b:\n    command: [x]\n    depends_on: [c]\n  c:\n    command: [x]\n    depends_on: [a]\n",
			`c.yaml:4:5: services.a: dependency cycle: a -> b -> c -> a`},
		{"two probes", "services:\n  web:\n    command: [x]\n    ready:\n      tcp: 127.0.0.1:1\n      log: started\n",
			`c.yaml:4:5: services.web: more than one probe kind (log, tcp): set exactly one`},
		{"no probe", "services:\n  web:\n    command: [x]\n    ready:\n      timeout: 5s\n",
			`c.yaml:4:5: services.web: no probe: set one of tcp, http, exec, log`},
		{"max_unavailable 0", "services:\n  web:\n    command: [x]\n    max_unavailable: 0\n",
			`c.yaml:4:5: services.web: max_unavailable must be at least 1 (a rolling restart must take some host down)`},
		{"expect without tcp", "services:\n  web:\n    command: [x]\n    ready:\n      http: http://127.0.0.1:1/\n      expect: ok\n",
			`c.yaml:4:5: services.web: send and expect go with a tcp probe`},
		{"bad regexp", "services:\n  web:\n    command: [x]\n    ready:\n      log: \"(\"\n",
			"c.yaml:5:7: services.web.ready: bad regular expression: error parsing regexp: missing closing ): `(`"},
		{"missing command", "services:\n  web:\n    dir: x\n",
			`c.yaml:2:3: services: missing key "command"`},
		{"empty command", "services:\n  web:\n    command: \"\"\n",
			`c.yaml:3:14: services.web.command: empty command`},
		{"duplicate key", "services:\n  web:\n    command: [x]\n    command: [y]\n",
			`c.yaml:4:5: yaml: mapping key "command" already defined at [3:5]`},
		{"no services", "run_dir: run\n", `c.yaml: no services defined`},
		{"bad name", "services:\n  \"../evil\":\n    command: [x]\n",
			`c.yaml:2:3: services: bad service name "../evil" (letters, digits, '.', '_', '-')`},
		{"bad env name", "env:\n  BAD-NAME: x\nservices:\n  web: {command: [x]}\n",
			`c.yaml:2:3: env: invalid variable name "BAD-NAME"`},
		{"host unknown service", "services:\n  web: {command: [x]}\nhosts:\n  h1:\n    services: [db]\n",
			`c.yaml:5:16: hosts.h1.services: unknown service "db"`},
		{"syntax", "services:\n  web: [\n", `c.yaml:2:8: yaml: sequence end token ']' not found`},
		{"self alias", "services:\n  a: &x\n  *x", `c.yaml:3:3: services.a: alias "x" refers to no anchor, or to itself`},
		{"unknown alias", "services:\n  a: *nope\n", `c.yaml:2:6: services.a: alias "nope" refers to no anchor, or to itself`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tt.want)
			}
		})
	}
}

func TestParseDefaultsAndPaths(t *testing.T) {
	src := `
run_dir: state
services:
  master-server:
    command: "exec java -jar master.jar"
    dir: master-server
    pid_file: master-server/pid
    stop_signal: SIGINT
    ready: {tcp: "127.0.0.1:5678"}
    log_max_size: 10MiB
    depends_on: [registry]
  registry:
    command: [zkServer.sh, start-foreground]
`
	c, err := Parse("/etc/ds/daemonctl.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Order, ","); got != "master-server,registry" {
		t.Errorf("order %q", got)
	}
	m := c.Services["master-server"]
	checks := map[string][2]string{
		"run_dir":  {c.RunDir, "/etc/ds/state"},
		"log_dir":  {c.LogDir, "/etc/ds/logs"},
		"dir":      {m.Dir, "/etc/ds/master-server"},
		"pid_file": {m.PidFile, "/etc/ds/master-server/pid"},
		"log_file": {m.LogFile, "/etc/ds/logs/master-server.out"},
		"reg pid":  {c.Services["registry"].PidFile, "/etc/ds/state/registry.pid"},
		"reg dir":  {c.Services["registry"].Dir, "/etc/ds"},
		"signal":   {m.StopSignal.String(), "INT"},
		"command":  {strings.Join(m.Command.Argv, "|"), "/bin/sh|-c|exec java -jar master.jar"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if m.StopTimeout.Std() != 10*time.Second || m.Ready.Timeout.Std() != 60*time.Second {
		t.Errorf("timeouts %v %v", m.StopTimeout.Std(), m.Ready.Timeout.Std())
	}
	if *m.LogMaxSize != 10<<20 || *m.LogMaxFiles != 5 {
		t.Errorf("log rotation %d %d", *m.LogMaxSize, *m.LogMaxFiles)
	}
	if m.Restart != RestartNever {
		t.Errorf("restart %q", m.Restart)
	}
	all := c.WithDependencies([]*Service{m})
	if len(all) != 2 {
		t.Errorf("WithDependencies: %d services", len(all))
	}
	if d := c.Dependents("registry"); len(d) != 1 || d[0] != "master-server" {
		t.Errorf("Dependents(registry) = %v", d)
	}
}

func TestSizeString(t *testing.T) {
	for sz, want := range map[Size]string{0: "0B", 512: "512B", 100 << 20: "100MiB", 3 << 29: "1.5GiB", 1<<20 + 1: "1MiB", 5 << 40: "5TiB"} {
		if got := sz.String(); got != want {
			t.Errorf("Size(%d) = %q, want %q", int64(sz), got, want)
		}
		if v, err := ParseSize(want); err != nil || (v != int64(sz) && sz != 1<<20+1) {
			t.Errorf("ParseSize(%q) = %d, %v", want, v, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]int64{"0": 0, "100MB": 100 << 20, "100MiB": 100 << 20, "1GiB": 1 << 30, "512k": 512 << 10, "1.5KB": 1536, "7": 7, "2 gb": 2 << 30}
	for in, want := range tests {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1MB", "10XB", "1e3"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestLocalPort(t *testing.T) {
	for _, tt := range []struct {
		r    Ready
		want int
	}{
		{Ready{TCP: "127.0.0.1:5678"}, 5678},
		{Ready{TCP: "localhost:2181"}, 2181},
		{Ready{TCP: "[::1]:80"}, 80},
		{Ready{TCP: "0.0.0.0:1"}, 1},
		{Ready{TCP: "10.0.0.5:5678"}, 0},
		{Ready{HTTP: "http://127.0.0.1:12345/dolphinscheduler"}, 12345},
		{Ready{HTTP: "http://localhost/health"}, 80},
		{Ready{HTTP: "https://127.0.0.1/health"}, 443},
		{Ready{HTTP: "http://ds1:5679/actuator/health"}, 0},
		{Ready{Log: "started"}, 0},
	} {
		if got := tt.r.LocalPort(); got != tt.want {
			t.Errorf("%+v: LocalPort = %d, want %d", tt.r, got, tt.want)
		}
	}
}

// validServiceName says what the pattern ^[A-Za-z0-9][A-Za-z0-9._-]*$ says.
func TestValidServiceName(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	for _, name := range []string{"", "a", "A9", "master-server", "x.y_z-1", "-a", ".a", "_a", "a b", "a/b", "../evil", "é", "a\n", "9", "a..", "ab$"} {
		if got, want := validServiceName(name), pattern.MatchString(name); got != want {
			t.Errorf("validServiceName(%q) = %v, want %v", name, got, want)
		}
	}
}

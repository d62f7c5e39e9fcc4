package configcache

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/daemonctl/daemonctl/internal/config"
)

// every uses every kind of key a config has, so that a field the cache's
// JSON drops (an unexported part, a pattern) shows as a difference.
const every = `run_dir: run
log_dir: logs
env_file: env.sh
env:
  A: "1"
  B: "$A"
ssh: {parallel: 3, connect_timeout: 4s, options: [-o, X=y], control_persist: 0s}
hosts:
  h1: {address: 10.0.0.1, port: 2222, user: ds, services: [db, web], install_path: /opt/ds, binary: bin/daemonctl, config: c.yaml}
  h2: {services: [web]}
services:
  db:
    command: [redis-server, --port, "6390"]
    shared: true
    ready: {tcp: "127.0.0.1:6390", send: "PING\r\n", expect: "^\\+PONG", timeout: 5s}
    max_unavailable: 1
    limits: {nofile: 4096, nproc: unlimited, core: 0}
    umask: "0027"
  web:
    command: "exec java -jar web.jar"
    dir: web
    env_file: web.env
    env_copy_to: conf/env.sh
    env: {JAVA_OPTS: -Xmx1g}
    pid_file: pids/web-${HOSTNAME}.pid
    log_file: logs/web-${HOSTNAME}.out
    stop_signal: INT
    stop_timeout: 30s
    start_grace: 2s
    depends_on: [db]
    ready: {log: "Started .* in [0-9.]+ seconds", timeout: 1m}
    liveness: {http: "http://127.0.0.1:8080/health", interval: 5s, timeout: 2s, failure_threshold: 2}
    start_with_all: false
    restart: on-failure
    restart_delay: 0s
    restart_limit: 3
    log_max_size: 10MiB
    log_max_files: 2
    log_timestamps: true
    on_exit: [/bin/true]
    user: nobody
    group: nogroup
  probe:
    command: [x]
    ready: {exec: [check, --fast]}
    liveness: {log: "alive", interval: 1s}
`

func TestEntryRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemonctl.yaml")
	for _, src := range []string{every, "services:\n  a: {command: [x]}\n"} {
		want, err := config.Parse(path, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := roundTrip(t, want); !reflect.DeepEqual(got, want) {
			t.Errorf("the cached config differs from the parsed one:\n got %+v\nwant %+v", got, want)
		}
	}
}

// roundTrip is c stored in an entry and read back as Load reads it.
func roundTrip(t *testing.T, c *config.Config) *config.Config {
	t.Helper()
	b, err := encode(entry{Exe: "e", Sum: "s", Config: c})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Config.CompilePatterns(); err != nil {
		t.Fatal(err)
	}
	return got.Config
}

// setup writes a config and returns its path and a cache directory.
func setup(t *testing.T, src string) (path, cache string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "daemonctl.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not in dir: the entry's writing would change dir's ctime, and the
	// stamps would never be trusted.
	return path, filepath.Join(t.TempDir(), "cache")
}

// tamper changes the command of service a in the one cache entry in
// cache, keeping what the entry was made from: a Load that returns the
// changed command read the entry.
func tamper(t *testing.T, cache string) {
	t.Helper()
	edit(t, cache, func(e *entry) { e.Config.Services["a"].Command.Argv[0] = "from-cache" })
}

// edit changes the one cache entry in cache.
func edit(t *testing.T, cache string, change func(*entry)) {
	t.Helper()
	file := entryFile(t, cache)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	e, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	change(&e)
	if b, err = encode(e); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func entryFile(t *testing.T, cache string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(cache, "*.entry"))
	if len(files) != 1 {
		t.Fatalf("want one cache entry, have %v", files)
	}
	return files[0]
}

func command(t *testing.T, path, cache string) string {
	t.Helper()
	c, err := Load(path, cache)
	if err != nil {
		t.Fatal(err)
	}
	return c.Services["a"].Command.Argv[0]
}

func TestLoadUsesAnEntryOnlyWhileItHolds(t *testing.T) {
	const src = "services:\n  a: {command: [x]}\n"
	path, cache := setup(t, src)
	if got := command(t, path, cache); got != "x" {
		t.Fatalf("first load: %q", got)
	}
	tamper(t, cache)
	if got := command(t, path, cache); got != "from-cache" {
		t.Fatalf("the entry was not used: %q", got)
	}

	// The config edited: parsed again.
	os.WriteFile(path, []byte(src+"  b: {command: [y]}\n"), 0o644)
	if got := command(t, path, cache); got != "x" {
		t.Errorf("after an edit: %q, want the file's", got)
	}

	// Another binary wrote it.
	tamper(t, cache)
	defer func(old func() string) { exeID = old }(exeID)
	exeID = func() string { return "another build" }
	if got := command(t, path, cache); got != "x" {
		t.Errorf("from another binary's entry: %q", got)
	}
}

func TestLoadIgnoresEntriesOthersCouldWrite(t *testing.T) {
	path, cache := setup(t, "services:\n  a: {command: [x]}\n")
	command(t, path, cache)
	tamper(t, cache)
	os.Chmod(entryFile(t, cache), 0o666)
	if got := command(t, path, cache); got != "x" {
		t.Errorf("an entry writable by others was used: %q", got)
	}
	tamper(t, cache)
	os.Chmod(cache, 0o777)
	if got := command(t, path, cache); got != "x" {
		t.Errorf("an entry in a directory writable by others was used: %q", got)
	}
}

// A log_file that became a directory after the config was cached is the
// same error, with the same position, as without the cache.
func TestLoadChecksTheFilesystemAgain(t *testing.T) {
	path, cache := setup(t, "services:\n  a:\n    command: [x]\n    log_file: a.log\n")
	if _, err := Load(path, cache); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(filepath.Dir(path), "a.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, want := config.Load(path)
	_, got := Load(path, cache)
	if want == nil || got == nil || got.Error() != want.Error() {
		t.Errorf("got %v, want %v", got, want)
	}
	if !strings.Contains(got.Error(), ":4:") {
		t.Errorf("no line in %v", got)
	}
}

// Once a service's log file is made (its first start), the directory's
// stamp no longer vouches for the entry: the checks pass, and the entry
// is stamped again, so that later commands need not make them.
func TestLoadStampsAnEntryAgain(t *testing.T) {
	path, cache := setup(t, "log_dir: logs\nservices:\n  a: {command: [x]}\n")
	logs := filepath.Join(filepath.Dir(path), "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	command(t, path, cache)
	tamper(t, cache)
	if err := os.WriteFile(filepath.Join(logs, "a.out"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := command(t, path, cache); got != "from-cache" {
		t.Fatalf("the entry was not used once its checks passed again: %q", got)
	}
	b, err := os.ReadFile(entryFile(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	e, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dirs[logs] != stamp(logs) {
		t.Errorf("the entry's stamp of %s is %q, want the directory's own %q", logs, e.Dirs[logs], stamp(logs))
	}
	if e.Config.Services["a"].Command.Argv[0] != "from-cache" {
		t.Errorf("stamping again changed the config it holds: %v", e.Config.Services["a"].Command.Argv)
	}
}

// ${HOSTNAME} in a path: an entry made on another host name is not used.
func TestLoadKeysHostnameConfigsByHost(t *testing.T) {
	path, cache := setup(t, "services:\n  a:\n    command: [x]\n    pid_file: a-${HOSTNAME}.pid\n")
	command(t, path, cache)
	edit(t, cache, func(e *entry) {
		if e.Host == "" {
			t.Fatal("the entry of a config using ${HOSTNAME} names no host")
		}
		e.Host = "elsewhere"
	})
	tamper(t, cache)
	if got := command(t, path, cache); got != "x" {
		t.Errorf("another host's entry was used: %q", got)
	}
}

func TestDir(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"HOME=/home/ds"}, "/home/ds/.cache/daemonctl"},
		{[]string{"HOME=/home/ds", "XDG_CACHE_HOME=/var/cache/ds"}, "/var/cache/ds/daemonctl"},
		{[]string{"HOME=/", "XDG_CACHE_HOME=relative"}, ""},
		{nil, ""},
	} {
		if got := Dir(c.env); got != c.want {
			t.Errorf("Dir(%q) = %q, want %q", c.env, got, c.want)
		}
	}
}

// FuzzRoundTrip: whatever config parses, its cache entry gives back the
// same config.
func FuzzRoundTrip(f *testing.F) {
	f.Add(every)
	f.Add("services:\n  a: {command: [x], ready: {log: \"a+\"}}\n")
	f.Fuzz(func(t *testing.T, src string) {
		want, err := config.Parse("/f/daemonctl.yaml", []byte(src))
		if err != nil {
			return
		}
		if !reflect.DeepEqual(roundTrip(t, want), want) {
			t.Errorf("round trip differs for %q", src)
		}
	})
}

// A log_file that is a link turns on its target's directory, which the
// stamp of its own does not cover: the target turned into a directory is
// found all the same.
func TestLoadFollowsLinkedLogFiles(t *testing.T) {
	path, cache := setup(t, "services:\n  a:\n    command: [x]\n    log_file: a.log\n")
	elsewhere := filepath.Join(t.TempDir(), "target")
	os.WriteFile(elsewhere, nil, 0o644)
	os.Symlink(elsewhere, filepath.Join(filepath.Dir(path), "a.log"))
	if _, err := Load(path, cache); err != nil {
		t.Fatal(err)
	}
	os.Remove(elsewhere)
	os.Mkdir(elsewhere, 0o755)
	if _, err := Load(path, cache); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("got %v, want the log_file error", err)
	}
}

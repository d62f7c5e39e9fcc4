package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/pagein"
	"github.com/daemonctl/daemonctl/internal/privilege"
)

// run runs daemonctl's CLI in this process on a config of yaml.
func run(t *testing.T, yaml string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "daemonctl.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code = Main(append([]string{"--config", path}, args...), IO{In: strings.NewReader(""), Out: &out, Err: &errOut, Environ: []string{"PATH=/usr/bin:/bin"}})
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	const ok = "services:\n  web:\n    command: [sleep, \"60\"]\n"
	tests := []struct {
		name string
		yaml string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"a config error names file, line and key", "services:\n  web:\n    comand: [x]\n", []string{"check"}, 2, `daemonctl.yaml:3:5: services.web: unknown key "comand"`},
		{"an unknown service", ok, []string{"status", "nosuch"}, 4, `unknown service "nosuch"`},
		{"a service never started", ok, []string{"status"}, 3, "web      STOPPED"},
		{"a stop of what does not run", ok, []string{"stop", "web"}, 0, "web is not running"},
		{"a missing env file", "env_file: env.sh\nservices:\n  web: {command: \"true\"}\n", []string{"start"}, 2, "env.sh"},
		{"status as JSON", ok, []string{"status", "--json"}, 3, `"state": "stopped"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.yaml, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("exit %d, want %d, with %q in:\n%s%s", code, tt.code, tt.want, stdout, stderr)
			}
		})
	}
}

// TestEveryCommandHasExamples: the help of every command a user sees
// shows how it is used.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot(&Factory{}))
}

// TestClusterHostsLimit: --hosts naming no host of the config is a usage
// error (exit 2), before any host is asked.
func TestClusterHostsLimit(t *testing.T) {
	yaml := "services:\n  web: {command: [x]}\nhosts:\n  ds1: {address: 127.0.0.1, services: [web]}\n  ds2: {address: 127.0.0.1, services: [web]}\n"
	for _, args := range [][]string{{"cluster", "status", "--hosts", "ds9"}, {"cluster", "stop", "--hosts", "worker*"}} {
		code, _, stderr := run(t, yaml, args...)
		if code != ExitUsage || !strings.Contains(stderr, "--hosts") {
			t.Errorf("%v: exit %d, %q; want 2 naming --hosts", args, code, stderr)
		}
	}
}

// The long-lived modes must be named in pagein's list, or each would
// keep the pages mapped ahead for a short command for its whole life;
// so must the exec helper, which would map them for nothing.
func TestPageinKnowsTheModesItSkips(t *testing.T) {
	root := NewRoot(&Factory{})
	for _, name := range []string{"run", supervisorCmdName, privilege.HelperCmd} {
		if cmd, _, err := root.Find([]string{name}); err != nil || cmd.Name() != name {
			t.Fatalf("no command %q: %v", name, err)
		}
		if !slices.Contains(pagein.Skipped, name) {
			t.Errorf("pagein.Skipped = %q lacks %q", pagein.Skipped, name)
		}
	}
}

// A hot command built alone (newRootFor) says what it says in the whole
// tree: its help, its flag errors, and its errors without a config.
func TestAHotCommandAloneSaysWhatTheWholeTreeSays(t *testing.T) {
	whole := func(f *Factory, _ []string) *cobra.Command { return NewRoot(f) }
	missing := filepath.Join(t.TempDir(), "daemonctl.yaml")
	for name := range hotCommands {
		if root := newRootFor(&Factory{}, []string{name}); len(root.Commands()) != 1 {
			t.Fatalf("%s: built with %d commands, want itself alone", name, len(root.Commands()))
		}
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {name, "--no-such-flag"}, {name, "web"}, {name, "--json", "web", "db"}, {name, "-c", missing + ".other", "web"}} {
			if lean, all := execute(newRootFor, missing, args), execute(whole, missing, args); lean != all {
				t.Errorf("daemonctl %s, built alone:\n%s\nin the whole tree:\n%s", strings.Join(args, " "), lean, all)
			}
		}
	}
}

// execute runs args in the tree build makes, with $DAEMONCTL_CONFIG set
// to config, as Main does, and returns its exit code and output.
func execute(build func(*Factory, []string) *cobra.Command, config string, args []string) string {
	var out, errOut bytes.Buffer
	f := &Factory{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errOut, Environ: []string{"PATH=/usr/bin:/bin", "DAEMONCTL_CONFIG=" + config}}}
	defer f.release()
	root := build(f, args)
	root.SetArgs(args)
	code := exitCode(root.ExecuteContext(context.Background()), &errOut)
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
}

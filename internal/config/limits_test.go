package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Hostile configs are refused at once, before the parser or the decoder
// spends seconds and gigabytes on them.
func TestExplodingConfigsAreRefused(t *testing.T) {
	var amplified strings.Builder
	amplified.WriteString("services:\n  base: &svc\n    command: [sleep, \"1\"]\n    env:\n")
	for i := range 500 {
		fmt.Fprintf(&amplified, "      K%d: v\n", i)
	}
	for i := range 400 {
		fmt.Fprintf(&amplified, "  s%d: *svc\n", i)
	}
	tests := []struct{ name, src, want string }{
		{"32 KB of nested [", "services:\n  web:\n    command: " + strings.Repeat("[", 32<<10) + "\n",
			"c.yaml:3:46: nested more than 32 deep ([ and { inside each other): refused"},
		{"nested {", "services: " + strings.Repeat("{a: ", 40) + "\n",
			"c.yaml:1:139: nested more than 32 deep"},
		{"over a megabyte", "services:\n  web: {command: [x]}\n#" + strings.Repeat("x", 1<<20) + "\n",
			"c.yaml: 1048610 bytes, over the 1048576 a config may have: refused"},
		{"aliases amplified", amplified.String(),
			"the config expands to more than 100000 values (aliases of aliases?): refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			_, err := Parse("c.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			t.Logf("refused in %s", time.Since(began))
		})
	}
	// Brackets in quotes and comments do not count.
	ok := "services:\n  web:\n    command: [echo, \"" + strings.Repeat("[", 100) + "\", '" + strings.Repeat("{", 100) + "']  # " + strings.Repeat("[", 100) + "\n"
	if _, err := Parse("c.yaml", []byte(ok)); err != nil {
		t.Fatalf("brackets in strings and comments: %v", err)
	}
}

func TestZeroMeansZero(t *testing.T) {
	c, err := Parse("c.yaml", []byte("services:\n  web: {command: [x], stop_timeout: 0s, restart_delay: 0s}\n  other: {command: [x]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if web := c.Services["web"]; web.StopTimeout.Std() != 0 || web.RestartDelay.Std() != 0 {
		t.Errorf("stop_timeout: 0 and restart_delay: 0 became %s and %s", web.StopTimeout.Std(), web.RestartDelay.Std())
	}
	if other := c.Services["other"]; other.StopTimeout.Std() != DefaultStopTimeout || other.RestartDelay.Std() != DefaultRestartDelay || *other.RestartLimit != DefaultRestartLimit {
		t.Errorf("defaults: %s %s %d", other.StopTimeout.Std(), other.RestartDelay.Std(), *other.RestartLimit)
	}
}

func TestLogFileOnAFIFOIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "web.out")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal("mkfifo:", err)
	}
	_, err := Parse(filepath.Join(dir, "c.yaml"), []byte("services:\n  web: {command: [x], log_file: web.out}\n"))
	if err == nil || !strings.Contains(err.Error(), "log_file "+fifo+" is not a regular file (p---------): a log cannot be written there") {
		t.Fatalf("a log on a FIFO: %v", err)
	}
}

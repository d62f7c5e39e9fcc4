package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds the decoder arbitrary YAML: it must never panic, and
// every error it returns must name the file.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"services:\n  web:\n    command: [x]\n",
		"services:\n  web:\n    command: \"exec java -jar a.jar\"\n    ready: {tcp: \"127.0.0.1:1\", timeout: 5s}\n    depends_on: [db]\n  db:\n    command: [redis-server]\n",
		"env_file: env.sh\nenv:\n  A: 1\n  B: \"$A\"\nservices:\n  a: {command: [x], stop_signal: KILL, stop_timeout: 1m, log_max_size: 1GiB, log_max_files: 3}\n",
		"services:\n  a: &x\n    command: [x]\n  b: *x\n",
		"services:\n  a:\n    command: [x]\n    <<: {dir: y}\n",
		"hosts:\n  h1: {address: 10.0.0.1, port: 22, services: [a]}\nssh: {parallel: 3, options: [-o, X=y]}\nservices:\n  a: {command: [x]}\n",
		"services:\n  web:\n    comand: [x]\n",
		"- a\n- b\n",
		"services: [\n",
		"services:\n  a:\n    command: [x]\n    depends_on: [a]\n",
		"---\nservices: {}\n---\nservices: {}\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := Parse("fuzz.yaml", []byte(src))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if len(cfg.Services) == 0 {
			t.Error("a config without services was accepted")
		}
		if cfg.findCycle() != nil {
			t.Error("a cyclic config was accepted")
		}
	})
}

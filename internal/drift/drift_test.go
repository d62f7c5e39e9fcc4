package drift

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/daemonctl/daemonctl/internal/config"
)

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env.sh")
	os.WriteFile(envFile, []byte("export JAVA_OPTS=-Xmx1g\n"), 0o644)
	parse := func(src string) (*config.Config, *config.Service) {
		t.Helper()
		cfg, err := config.Parse(filepath.Join(dir, "daemonctl.yaml"), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return cfg, cfg.Services["web"]
	}
	base := "env_file: env.sh\nservices:\n  web:\n    command: [server]\n    env: {A: one}\n"
	was := Fingerprint(parse(base))
	if again := Fingerprint(parse(base)); again != was {
		t.Fatalf("same config, another fingerprint: %s, %s", was, again)
	}
	if Fingerprint(parse(base+"    stop_timeout: 5s\n")) != was {
		t.Error("stop_timeout does not shape a launch, yet changed the fingerprint")
	}
	for name, src := range map[string]string{
		"command": "env_file: env.sh\nservices:\n  web:\n    command: [server, -v]\n    env: {A: one}\n",
		"env":     "env_file: env.sh\nservices:\n  web:\n    command: [server]\n    env: {A: two}\n",
		"probe":   base + "    ready: {tcp: 127.0.0.1:1}\n",
		"limits":  base + "    limits: {nofile: 10}\n",
		"user":    base + "    user: nobody\n",
	} {
		if Fingerprint(parse(src)) == was {
			t.Errorf("a changed %s left the fingerprint alone", name)
		}
	}
	os.WriteFile(envFile, []byte("export JAVA_OPTS=-Xmx2g\n"), 0o644)
	if Fingerprint(parse(base)) == was {
		t.Error("a changed env file left the fingerprint alone")
	}
	os.Remove(envFile)
	if Fingerprint(parse(base)) == was {
		t.Error("a missing env file left the fingerprint alone")
	}
}

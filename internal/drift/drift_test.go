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

// Two hosts with the same config under different install paths have the
// same settings; an env file that differs shows as the keys it changes,
// a secret masked on both sides but still compared.
func TestSettingsAcrossHosts(t *testing.T) {
	host := func(envContent string) ServiceSettings {
		t.Helper()
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "app.env"), []byte(envContent), 0o600)
		os.Mkdir(filepath.Join(dir, "bin"), 0o755)
		src := "services:\n  web:\n    command: [" + filepath.Join(dir, "bin", "server") + ", --port, '80']\n    dir: bin\n    env_file: app.env\n    limits: {nofile: 4096}\n"
		cfg, err := config.Parse(filepath.Join(dir, "daemonctl.yaml"), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		ss, err := Settings(cfg, cfg.Services["web"])
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	a := host("DB_PASSWORD=hunter22\nMODE=a\n")
	if b := host("DB_PASSWORD=hunter22\nMODE=a\n"); a.Hash != b.Hash {
		t.Errorf("same config, other install path: %v vs %v", a.Settings, b.Settings)
	}
	if got := a.Settings["command"].Value + " | " + a.Settings["dir"].Value + " | " + a.Settings["limits.nofile"].Value; got != "bin/server --port 80 | bin | 4096" {
		t.Errorf("settings shown as %q", got)
	}
	c := host("DB_PASSWORD=hunter23\nMODE=b\n")
	if keys := Diff(a, c); len(keys) != 2 || keys[0] != "env.DB_PASSWORD" || keys[1] != "env.MODE" {
		t.Errorf("diff = %v, want env.DB_PASSWORD and env.MODE", keys)
	}
	if v := c.Settings["env.DB_PASSWORD"].Value; v != "********" {
		t.Errorf("a secret shown as %q", v)
	}
}

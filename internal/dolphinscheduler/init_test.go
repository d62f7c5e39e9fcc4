package dolphinscheduler

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daemonctl/daemonctl/internal/config"
)

// layout writes a DolphinScheduler home with the files init reads, as
// upstream's 3.2.1 binary tarball lays them out.
func layout(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	for name, body := range files {
		p := filepath.Join(home, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func TestInitFromAnInstall(t *testing.T) {
	home := layout(t, map[string]string{
		"master-server/bin/start.sh":          "#!/bin/bash\n",
		"master-server/conf/application.yaml": "spring:\n  application:\n    name: master-server\nserver:\n  port: 15679\n",
		"worker-server/bin/start.sh":          "#!/bin/bash\n",
		"api-server/bin/start.sh":             "#!/bin/bash\n",
		EnvFile:                               "export REGISTRY_TYPE=zookeeper\nexport REGISTRY_ZOOKEEPER_CONNECT_STRING=zk1:2181\nexport JAVA_HOME=/opt/java\n",
		InstallEnvFile: "ips=\"ds1,ds2\"\nsshPort=\"2222\"\nmasters=\"ds1\"\nworkers=\"ds1:default,ds2:default\"\n" +
			"alertServer=\"ds2\"\napiServers=\"ds2\"\ninstallPath=\"/opt/ds\"\ndeployUser=\"dolphinscheduler\"\n",
	})
	in, err := Inspect(home, "ds1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range in.Servers {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "master-server worker-server api-server" {
		t.Errorf("servers %q", got)
	}
	if in.Servers[0].HealthPort != 15679 || in.Servers[1].HealthPort != 1235 {
		t.Errorf("health ports %d %d: want application.yaml's, else upstream's default", in.Servers[0].HealthPort, in.Servers[1].HealthPort)
	}
	if in.ZkServer != "" {
		t.Errorf("a registry on another host made a local one: %s", in.ZkServer)
	}
	if len(in.Hosts) != 2 || in.Hosts[0].Port != 2222 || in.Hosts[0].User != "dolphinscheduler" ||
		strings.Join(in.Hosts[0].Services, ",") != "master-server,worker-server" || strings.Join(in.Hosts[1].Services, ",") != "worker-server,api-server" {
		t.Errorf("hosts %+v", in.Hosts)
	}

	path, err := Write(home, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	m := cfg.Services["master-server"]
	host, _ := os.Hostname()
	if m.PidFile != filepath.Join(home, "master-server", "pid") || !strings.HasSuffix(m.LogFile, "master-server/logs/master-server-"+host+".out") {
		t.Errorf("master-server's files: %s %s", m.PidFile, m.LogFile)
	}
	if m.Ready == nil || m.Ready.HTTP != "http://127.0.0.1:15679/actuator/health" {
		t.Errorf("master-server's probe: %+v", m.Ready)
	}
	if _, err := Write(home, false); !errors.Is(err, ErrExists) {
		t.Errorf("a second init without --force: %v", err)
	}
}

func TestInitRefusesAHomeWithoutServers(t *testing.T) {
	home := layout(t, map[string]string{"README": "not DolphinScheduler"})
	if _, err := Inspect(home, "h"); err == nil || !strings.Contains(err.Error(), "no DolphinScheduler server found") {
		t.Fatalf("Inspect of an empty home: %v", err)
	}
}

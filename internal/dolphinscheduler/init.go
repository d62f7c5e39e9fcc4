// Package dolphinscheduler turns an existing Apache DolphinScheduler
// install into a daemonctl config: it finds the servers under
// DOLPHINSCHEDULER_HOME, their health ports, the shared env file, a local
// ZooKeeper registry and the hosts of bin/env/install_env.sh, and writes
// DS_HOME/daemonctl.yaml so that `daemonctl start master-server` replaces
// `dolphinscheduler-daemon.sh start master-server`.
package dolphinscheduler

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/daemonctl/daemonctl/internal/envfile"
)

// Server is one DolphinScheduler server type and where its health shows:
// Spring Boot's /actuator/health under the server's context path, on its
// port (both as its conf/application.yaml says, else upstream's defaults).
type Server struct {
	Name        string
	HealthPort  int
	ContextPath string
	// Standalone is the all-in-one server: it needs no registry, and it
	// is not started with the cluster's servers.
	Standalone bool
	// JVMArgs are the flags of its bin/jvm_args_env.sh.
	JVMArgs []string
}

// HealthPath is the server's health endpoint.
func (s Server) HealthPath() string {
	return strings.TrimSuffix(s.ContextPath, "/") + "/actuator/health"
}

// Servers are the server types daemonctl knows, in start order.
var Servers = []Server{
	{Name: "master-server", HealthPort: 5679},
	{Name: "worker-server", HealthPort: 1235},
	{Name: "alert-server", HealthPort: 50053},
	{Name: "api-server", HealthPort: 12345, ContextPath: "/dolphinscheduler/"},
	{Name: "standalone-server", HealthPort: 12345, ContextPath: "/dolphinscheduler/", Standalone: true},
}

// EnvFile is the shared env file, relative to DOLPHINSCHEDULER_HOME.
const EnvFile = "bin/env/dolphinscheduler_env.sh"

// InstallEnvFile lists the cluster's hosts, relative to DOLPHINSCHEDULER_HOME.
const InstallEnvFile = "bin/env/install_env.sh"

// Install is what was found in a DolphinScheduler home.
type Install struct {
	Home     string
	Hostname string
	Servers  []Server
	HasEnv   bool
	// Registry is the local ZooKeeper's start script and port, if the env
	// file points the registry at this host and zkServer.sh is found.
	ZkServer string
	ZkPort   int
	Hosts    []Host
}

// Host is one machine of install_env.sh with the servers it runs.
type Host struct {
	Address, User, InstallPath string
	Port                       int
	Services                   []string
}

// Inspect reads the install at home.
func Inspect(home, hostname string) (*Install, error) {
	in := &Install{Home: home, Hostname: hostname}
	for _, s := range Servers {
		if _, err := os.Stat(filepath.Join(home, s.Name, "bin", "start.sh")); err == nil {
			s.HealthPort, s.ContextPath = serverAddress(filepath.Join(home, s.Name, "conf", "application.yaml"), s.HealthPort, s.ContextPath)
			s.JVMArgs = jvmArgs(filepath.Join(home, s.Name, "bin", "jvm_args_env.sh"))
			in.Servers = append(in.Servers, s)
		}
	}
	if len(in.Servers) == 0 {
		return nil, fmt.Errorf("%s: no DolphinScheduler server found (looked for */bin/start.sh of %s)", home, serverNames())
	}
	env := &envfile.Env{}
	if err := env.LoadFile(filepath.Join(home, EnvFile)); err == nil {
		in.HasEnv = true
		in.findRegistry(env)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	hosts, err := readInstallEnv(filepath.Join(home, InstallEnvFile), in.Servers)
	if err != nil {
		return nil, err
	}
	in.Hosts = hosts
	return in, nil
}

func serverNames() string {
	names := make([]string, len(Servers))
	for i, s := range Servers {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// serverAddress reads server.port and server.servlet.context-path from a
// Spring application.yaml; what it does not say keeps port and context.
func serverAddress(path string, port int, context string) (int, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return port, context
	}
	var app struct {
		Server struct {
			Port    int `yaml:"port"`
			Servlet struct {
				ContextPath *string `yaml:"context-path"`
			} `yaml:"servlet"`
		} `yaml:"server"`
	}
	if yaml.Unmarshal(b, &app) != nil {
		return port, context
	}
	if app.Server.Port != 0 {
		port = app.Server.Port
	}
	if c := app.Server.Servlet.ContextPath; c != nil {
		context = *c
	}
	return port, context
}

// jvmArgs reads the JVM flags of a server's bin/jvm_args_env.sh as
// upstream's start.sh does: every line that starts with "-", as is.
func jvmArgs(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "-") {
			out = append(out, line)
		}
	}
	return out
}

func (in *Install) findRegistry(env *envfile.Env) {
	if t, ok := env.Get("REGISTRY_TYPE"); ok && !strings.EqualFold(t, "zookeeper") {
		return
	}
	connect, ok := env.Get("REGISTRY_ZOOKEEPER_CONNECT_STRING")
	if !ok {
		return
	}
	for _, hp := range strings.Split(connect, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(hp))
		if err != nil || !(host == "localhost" || host == "127.0.0.1" || host == in.Hostname) {
			continue
		}
		p, _ := strconv.Atoi(port)
		zk := findZkServer(env)
		if zk != "" && p > 0 {
			in.ZkServer, in.ZkPort = zk, p
		}
		return
	}
}

func findZkServer(env *envfile.Env) string {
	var candidates []string
	if zh, ok := env.Get("ZOOKEEPER_HOME"); ok {
		candidates = append(candidates, filepath.Join(zh, "bin", "zkServer.sh"))
	}
	if zh := os.Getenv("ZOOKEEPER_HOME"); zh != "" {
		candidates = append(candidates, filepath.Join(zh, "bin", "zkServer.sh"))
	}
	if p, err := exec.LookPath("zkServer.sh"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/share/zookeeper/bin/zkServer.sh")
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// readInstallEnv reads the hosts of install_env.sh: ips, sshPort,
// deployUser, installPath, and which hosts run masters, workers (host:group),
// alertServer and apiServers. Only servers that are installed are listed.
func readInstallEnv(path string, installed []Server) ([]Host, error) {
	env := &envfile.Env{}
	if err := env.LoadFile(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	get := func(k string) string { v, _ := env.Get(k); return v }
	port, _ := strconv.Atoi(get("sshPort"))
	roles := map[string][]string{}
	for server, key := range map[string]string{"master-server": "masters", "worker-server": "workers", "alert-server": "alertServer", "api-server": "apiServers"} {
		for _, h := range splitList(get(key)) {
			h, _, _ = strings.Cut(h, ":") // workers are host:group
			roles[h] = append(roles[h], server)
		}
	}
	var hosts []Host
	for _, ip := range splitList(get("ips")) {
		var services []string
		for _, s := range installed { // keep start order
			for _, r := range roles[ip] {
				if r == s.Name {
					services = append(services, r)
				}
			}
		}
		hosts = append(hosts, Host{Address: ip, Port: port, User: get("deployUser"), InstallPath: get("installPath"), Services: services})
	}
	return hosts, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

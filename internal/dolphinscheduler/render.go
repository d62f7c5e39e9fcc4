package dolphinscheduler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/daemonctl/daemonctl/internal/pidfile"
)

// ConfigName is the file Write creates in DOLPHINSCHEDULER_HOME.
const ConfigName = "daemonctl.yaml"

// ErrExists is returned by Write when the config exists and force is off.
var ErrExists = errors.New("exists (use --force to replace it)")

// Write inspects the install at home and writes home/daemonctl.yaml,
// keeping an existing one unless force is set. It returns the path.
func Write(home string, force bool) (string, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", err
	}
	path := filepath.Join(abs, ConfigName)
	if _, err := os.Lstat(path); err == nil && !force {
		return path, fmt.Errorf("%s %w", path, ErrExists)
	}
	host, _ := os.Hostname()
	in, err := Inspect(abs, host)
	if err != nil {
		return "", err
	}
	return path, pidfile.WriteAtomic(path, []byte(in.Render()), 0o644)
}

// Render returns the daemonctl.yaml for the install. Paths are relative
// to DOLPHINSCHEDULER_HOME, where the file lives.
func (in *Install) Render() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# daemonctl config for the DolphinScheduler install in %s.", in.Home)
	w("# Written by `daemonctl init --dolphinscheduler`; edit freely.")
	w("run_dir: run")
	w("log_dir: logs")
	if in.HasEnv {
		w("env_file: %s", EnvFile)
	}
	w("services:")
	if in.ZkServer != "" {
		w("  registry:")
		w("    command: [%s, start-foreground]", quote(in.ZkServer))
		w("    log_file: logs/registry-${HOSTNAME}.out")
		w("    stop_timeout: 30s")
		w("    # ZooKeeper is shared: a stop or restart of all services leaves it")
		w("    # running (name it to stop it), and one already serving its port is")
		w("    # used rather than started twice.")
		w("    shared: true")
		w("    ready:")
		w("      tcp: 127.0.0.1:%d", in.ZkPort)
		w("      timeout: 60s")
	}
	for _, s := range in.Servers {
		w("  %s:", s.Name)
		w("    command: [bash, bin/start.sh]")
		w("    dir: %s", s.Name)
		if in.HasEnv {
			w("    env_copy_to: %s/conf/dolphinscheduler_env.sh", s.Name)
		}
		w("    pid_file: %s/pid", s.Name)
		w("    log_file: %s/logs/%s-${HOSTNAME}.out", s.Name, s.Name)
		w("    stop_timeout: 30s")
		if s.Standalone {
			w("    start_with_all: false  # the all-in-one server: start it by name, not with the cluster's")
		} else if in.ZkServer != "" {
			w("    depends_on: [registry]")
		}
		w("    ready:")
		w("      http: http://127.0.0.1:%d%s", s.HealthPort, s.HealthPath())
		w("      timeout: 180s")
		if len(s.JVMArgs) > 0 {
			w("    # upstream's start.sh runs the JVM with JAVA_OPTS *instead of*")
			w("    # bin/jvm_args_env.sh's flags when JAVA_OPTS is set. To add flags, keep")
			w("    # these (they are that file's) and append yours: a later flag wins.")
			w("    # env:")
			w("    #   JAVA_OPTS: %s", quote("-server "+strings.Join(s.JVMArgs, " ")+" -Xmx1g"))
		}
	}
	if len(in.Hosts) > 0 {
		w("hosts:  # from %s", InstallEnvFile)
		for _, h := range in.Hosts {
			w("  %s:", quote(h.Address))
			if h.Port > 0 {
				w("    port: %d", h.Port)
			}
			if h.User != "" {
				w("    user: %s", quote(h.User))
			}
			w("    services: [%s]", strings.Join(h.Services, ", "))
			if h.InstallPath != "" {
				w("    install_path: %s", quote(h.InstallPath))
			}
		}
	}
	return b.String()
}

func quote(s string) string { return strconv.Quote(s) }

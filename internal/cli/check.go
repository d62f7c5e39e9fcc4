package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/envfile"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
)

func newCheckCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the config and print it resolved (env included, secrets masked)",
		Example: `  daemonctl check
  daemonctl -c /opt/ds/daemonctl.yaml check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			return printResolved(f.IO.Out, m, envfile.FromEnviron(f.IO.Environ))
		},
	}
}

func printResolved(w io.Writer, m *lifecycle.Manager, caller *envfile.Env) error {
	cfg := m.Config()
	fmt.Fprintf(w, "config: %s\nrun_dir: %s\nlog_dir: %s\n", cfg.Path, cfg.RunDir, cfg.LogDir)
	if cfg.EnvFile != "" {
		fmt.Fprintf(w, "env_file: %s\n", cfg.EnvFile)
	}
	fmt.Fprintln(w, "services:")
	for _, name := range cfg.Order {
		s := cfg.Services[name]
		env, err := m.Env(s)
		if err != nil {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("services.%s: %w", name, err)}
		}
		printService(w, s)
		fmt.Fprintln(w, "    env:  # set by the config and its env files")
		mask := envfile.NewMasker(env)
		for _, k := range env.Keys() {
			v, _ := env.Get(k)
			if old, ok := caller.Get(k); ok && old == v {
				continue
			}
			fmt.Fprintf(w, "      %s=%s\n", k, mask.Mask(k, v))
		}
	}
	return nil
}

func printService(w io.Writer, s *config.Service) {
	fmt.Fprintf(w, "  %s:\n", s.Name)
	kind := "argv"
	if s.Command.Shell {
		kind = "sh -c"
	}
	fmt.Fprintf(w, "    command (%s): %s\n", kind, s.Command)
	fmt.Fprintf(w, "    dir: %s\n    pid_file: %s\n    log_file: %s\n", s.Dir, s.PidFile, s.LogFile)
	fmt.Fprintf(w, "    stop: %s, then SIGKILL after %s\n", s.StopSignal, s.StopTimeout.Std())
	if len(s.DependsOn) > 0 {
		fmt.Fprintf(w, "    depends_on: %s\n", strings.Join(s.DependsOn, ", "))
	}
	if s.Ready != nil {
		fmt.Fprintf(w, "    ready: %s (timeout %s)\n", s.Ready, s.Ready.Timeout.Std())
	}
	fmt.Fprintf(w, "    restart: %s\n", s.Restart)
	fmt.Fprintf(w, "    log rotation: at %s, keep %d\n", *s.LogMaxSize, *s.LogMaxFiles)
	if s.EnvCopyTo != "" {
		fmt.Fprintf(w, "    env_copy_to: %s\n", s.EnvCopyTo)
	}
}

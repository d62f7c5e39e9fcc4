package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/lifecycle"
)

// reportFailures prints each failed service with the end of its log and
// returns a silent exit 1, or err unchanged if it is not a set of failures.
func reportFailures(w io.Writer, err error) error {
	var failures lifecycle.Failures
	if !errors.As(err, &failures) {
		return err
	}
	for _, f := range failures {
		fmt.Fprintf(w, "daemonctl: %s\n", f)
		if len(f.LogTail) > 0 {
			fmt.Fprintf(w, "  last %d lines of %s:\n", len(f.LogTail), f.LogFile)
			for _, line := range f.LogTail {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
	return &ExitError{Code: ExitFailed}
}

// actOnServices is the RunE of the commands that act on services: it
// loads the config, runs act, and reports each service that failed; with
// --json (asJSON), what was done to each service instead, as JSON.
func actOnServices(f *Factory, asJSON *bool, act func(m *lifecycle.Manager, ctx context.Context, names []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		m, err := f.manager(*asJSON)
		if err != nil {
			return err
		}
		err = act(m, f.InterruptibleSoon(cmd), args)
		if *asJSON {
			return writeOutcomes(f.IO.Out, m, err)
		}
		return reportFailures(f.IO.Err, err)
	}
}

// writeOutcomes prints what a command did to each service as JSON:
// {"results": [{"service", "action", "error"}]}; any failure exits 1.
func writeOutcomes(w io.Writer, m *lifecycle.Manager, err error) error {
	var failures lifecycle.Failures
	var one *lifecycle.ServiceError
	if err != nil && !errors.As(err, &failures) && !errors.As(err, &one) {
		return err // not about a service: a usage or config error
	}
	outcomes := m.Outcomes(err)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Results []lifecycle.Outcome `json:"results"`
	}{outcomes}); err != nil {
		return err
	}
	if err != nil {
		return &ExitError{Code: ExitFailed}
	}
	return nil
}

func newStartCmd(f *Factory) *cobra.Command {
	var noDeps, asJSON bool
	cmd := &cobra.Command{
		Use:   "start [SERVICE...]",
		Short: "Start services (and what they depend on), each once, waiting until ready",
		Example: `  daemonctl start                    # every service, in dependency order
  daemonctl start master-server      # it, and what it depends on
  daemonctl -c /opt/ds/daemonctl.yaml start --no-deps api-server`,
		ValidArgsFunction: completeServices(f),
		RunE: actOnServices(f, &asJSON, func(m *lifecycle.Manager, ctx context.Context, names []string) error {
			if noDeps {
				return m.StartOnly(ctx, names)
			}
			return m.Start(ctx, names)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was done to each service as JSON, not progress lines")
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "start only the named services, not what they depend on (cluster start runs those on their own hosts)")
	return cmd
}

func newStopCmd(f *Factory) *cobra.Command {
	var (
		timeout time.Duration
		adopt   bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "stop [SERVICE...]",
		Short: "Stop services: signal the whole process tree, return when it is gone",
		Example: `  daemonctl stop                     # every service, dependents first
  daemonctl stop worker-server --timeout 10s`,
		ValidArgsFunction: completeServices(f),
		RunE: actOnServices(f, &asJSON, func(m *lifecycle.Manager, ctx context.Context, names []string) error {
			return m.Stop(ctx, names, lifecycle.StopOptions{Timeout: timeout, Adopt: adopt})
		}),
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "grace period before SIGKILL (default: each service's stop_timeout)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was done to each service as JSON, not progress lines")
	cmd.Flags().BoolVar(&adopt, "adopt", false, "also stop servers another tool started (taking them over first)")
	return cmd
}

func newRestartCmd(f *Factory) *cobra.Command {
	var (
		opts   lifecycle.RestartOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "restart [SERVICE...]",
		Short: "Stop then start services",
		Example: `  daemonctl restart api-server
  daemonctl restart --rolling        # one at a time, each ready before the next`,
		ValidArgsFunction: completeServices(f),
		RunE: actOnServices(f, &asJSON, func(m *lifecycle.Manager, ctx context.Context, names []string) error {
			return m.Restart(ctx, names, opts)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was done to each service as JSON, not progress lines")
	cmd.Flags().BoolVar(&opts.Rolling, "rolling", false, "restart one service at a time, each ready before the next")
	cmd.Flags().BoolVar(&opts.NoDeps, "no-deps", false, "start only the named services again, not what they depend on (cluster restart runs those on their own hosts)")
	return cmd
}

func newAdoptCmd(f *Factory) *cobra.Command {
	var opts lifecycle.AdoptOptions
	cmd := &cobra.Command{
		Use:   "adopt SERVICE [--pid PID | --from-pidfile]",
		Short: "Take over a server another tool started (dolphinscheduler-daemon.sh), after checking it is that service",
		Example: `  daemonctl status master-server          # unmanaged (pid 4242): started by another tool
  daemonctl adopt master-server --from-pidfile
  daemonctl restart master-server          # now run by daemonctl, output captured`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.PID != 0 && opts.FromPidfile {
				return &ExitError{Code: ExitUsage, Err: errors.New("adopt: --pid and --from-pidfile exclude each other")}
			}
			m, err := f.Manager()
			if err != nil {
				return err
			}
			return reportFailures(f.IO.Err, m.Adopt(f.InterruptibleSoon(cmd), args[0], opts))
		},
	}
	cmd.Flags().IntVar(&opts.PID, "pid", 0, "the server's process (default: the one status finds)")
	cmd.Flags().BoolVar(&opts.FromPidfile, "from-pidfile", false, "the process the service's pid file names")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "adopt it even if its command line does not show the service's script")
	return cmd
}

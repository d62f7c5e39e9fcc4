package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/envfile"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
	"github.com/daemonctl/daemonctl/internal/metrics"
)

func newPrepareCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "prepare [SERVICE...]",
		Short: "Pre-flight and env propagation only: check, create directories, write env_copy_to; launch nothing",
		Example: `  daemonctl prepare master-server    # in an init container or an image build
  daemonctl prepare`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			return reportFailures(f.IO.Err, m.Prepare(args))
		},
	}
}

func newProbeCmd(f *Factory) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "probe SERVICE",
		Short: "Run a service's readiness probe once (exit 0 pass, 1 fail), or until it passes with --wait",
		Example: `  daemonctl probe master-server                 # a Kubernetes exec readiness probe
  daemonctl probe registry --wait 5m            # an init container waiting for ZooKeeper`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			err = m.Probe(f.Interruptible(cmd), args[0], wait)
			if errors.Is(err, lifecycle.ErrNoProbe) {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			if err != nil {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			fmt.Fprintf(f.IO.Out, "%s is ready\n", args[0])
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "retry until the probe passes or this time is up")
	return cmd
}

func newEnvCmd(f *Factory) *cobra.Command {
	var asJSON, reveal bool
	cmd := &cobra.Command{
		Use:   "env SERVICE",
		Short: "Print the environment a service runs with, as export lines or JSON; secrets masked unless --reveal",
		Example: `  daemonctl env master-server
  daemonctl env master-server --json | jq -r .SPRING_DATASOURCE_URL`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			services, err := m.Config().Select(args)
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			env, err := m.Env(services[0])
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			mask := envfile.NewMasker(env)
			show := func(k, v string) string {
				if reveal {
					return v
				}
				return mask.Mask(k, v)
			}
			if asJSON {
				out := map[string]string{}
				for _, k := range env.Keys() {
					v, _ := env.Get(k)
					out[k] = show(k, v)
				}
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			for _, k := range env.Keys() {
				v, _ := env.Get(k)
				fmt.Fprintf(f.IO.Out, "export %s=%s\n", k, envfile.Quote(show(k, v)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	cmd.Flags().BoolVar(&reveal, "reveal", false, "show secrets in clear")
	return cmd
}

func newMetricsCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "metrics [SERVICE...]",
		Short:             "Print the services' metrics once, in Prometheus text format (node_exporter's textfile collector)",
		Example:           `  daemonctl metrics > /var/lib/node_exporter/textfile/daemonctl.prom.$$ && mv /var/lib/node_exporter/textfile/daemonctl.prom.$$ /var/lib/node_exporter/textfile/daemonctl.prom`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			statuses, err := m.Status(args)
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			return metrics.Write(f.IO.Out, statuses)
		},
	}
}

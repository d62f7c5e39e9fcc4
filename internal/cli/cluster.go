package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/cluster"
	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/state"
)

func newClusterCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Start, stop, restart or show services across the config's hosts, over ssh",
		Example: `  daemonctl cluster start
  daemonctl cluster status master-server
  daemonctl cluster stop --timeout 30s worker-server`,
	}
	cmd.PersistentFlags().StringSliceVar(&f.Hosts, "hosts", nil, "only these hosts: names or patterns (worker*, ds[12]), comma-separated, as Ansible's --limit")
	var timeout time.Duration
	stop := &cobra.Command{
		Use:               "stop [SERVICE...]",
		Short:             "Stop services on every host that runs them, dependents first",
		Example:           "  daemonctl cluster stop\n  daemonctl cluster stop --timeout 30s worker-server",
		ValidArgsFunction: completeServices(f),
		RunE: onCluster(f, func(r *cluster.Runner, ctx context.Context, names []string, report func(cluster.Step)) error {
			return r.Stop(ctx, names, timeout, report)
		}),
	}
	stop.Flags().DurationVar(&timeout, "timeout", 0, "grace period before SIGKILL (default: each service's stop_timeout)")
	cmd.AddCommand(
		addJSONFlag(&cobra.Command{
			Use:               "start [SERVICE...]",
			Short:             "Start services on every host that runs them, a dependency level at a time",
			Example:           "  daemonctl cluster start\n  daemonctl cluster start --json master-server worker-server",
			ValidArgsFunction: completeServices(f),
			RunE:              onCluster(f, (*cluster.Runner).Start),
		}),
		addJSONFlag(stop),
		addJSONFlag(newClusterRestartCmd(f)),
		addJSONFlag(&cobra.Command{
			Use:               "update [SERVICE...]",
			Short:             "Bring every host in line with its config, a dependency level at a time: start added, restart changed, stop removed",
			Example:           "  daemonctl cluster update\n  daemonctl cluster update --json --hosts 'worker*'",
			ValidArgsFunction: completeServices(f),
			RunE:              onCluster(f, (*cluster.Runner).Update),
		}),
		newClusterStatusCmd(f),
		newClusterDiffCmd(f),
	)
	return cmd
}

// onCluster is the RunE of the cluster commands that act on services:
// every host's output is printed as it finishes, each line prefixed with
// the host's name. With --json it gives each host's daemonctl --json and
// prints what they all answered as one document once done:
// {"hosts": [{"host", "error", "results": [{"service", "action", "error"}]}]}.
func onCluster(f *Factory, act func(r *cluster.Runner, ctx context.Context, names []string, report func(cluster.Step)) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		r, err := f.clusterRunner()
		if err != nil {
			return err
		}
		asJSON, _ := cmd.Flags().GetBool("json")
		if !asJSON {
			return clusterError(act(r, f.Interruptible(cmd), args, func(step cluster.Step) {
				for _, res := range step.Results {
					writeHostOutput(f.IO.Out, f.IO.Err, res)
				}
			}))
		}
		r.RemoteArgs = []string{"--json"}
		var outcomes cluster.Outcomes
		err = act(r, f.Interruptible(cmd), args, outcomes.Add)
		if err != nil && !clusterFailure(err) {
			return clusterError(err) // not about a host: a usage or config error
		}
		outcomes.NotAttempted(r, err)
		return writeClusterOutcomes(f.IO.Out, outcomes.List(r.Config.HostOrder), err)
	}
}

// writeClusterOutcomes prints what each host did as one JSON document;
// hosts that failed (failed) make the exit 1.
func writeClusterOutcomes(w io.Writer, hosts []cluster.HostOutcomes, failed error) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Hosts []cluster.HostOutcomes `json:"hosts"`
	}{hosts}); err != nil {
		return err
	}
	if failed != nil {
		return &ExitError{Code: ExitFailed}
	}
	return nil
}

// clusterRunner is the runner of a cluster command: the config's hosts,
// limited by --hosts.
func (f *Factory) clusterRunner() (*cluster.Runner, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return &cluster.Runner{Config: cfg, Limit: f.Hosts}, nil
}

// clusterFailure reports whether err is hosts failing, as opposed to a
// command that could not begin.
func clusterFailure(err error) bool {
	var failed *cluster.FailedError
	var roll *cluster.RollError
	return errors.As(err, &failed) || errors.As(err, &roll)
}

// addJSONFlag gives a cluster command that acts on services --json.
func addJSONFlag(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().Bool("json", false, "print what each host did to each service as JSON, not progress lines")
	return cmd
}

// clusterError gives a cluster command's error its exit code: 2 for a
// config with no hosts, 1 for hosts that failed.
func clusterError(err error) error {
	var unknownHost *cluster.UnknownHostError
	switch {
	case errors.Is(err, cluster.ErrNoHosts), errors.As(err, &unknownHost):
		return &ExitError{Code: ExitUsage, Err: err}
	case clusterFailure(err):
		return &ExitError{Code: ExitFailed, Err: err}
	}
	return err
}

// writeHostOutput prints what a host said, each line as "host: line".
func writeHostOutput(out, errOut io.Writer, res cluster.Result) {
	prefix := func(w io.Writer, b []byte) {
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(w, "%s: %s\n", res.Host, line)
			}
		}
	}
	prefix(out, res.Stdout)
	if res.Err != nil {
		fmt.Fprintf(errOut, "%s: unreachable: %v\n", res.Host, res.Err)
		return
	}
	prefix(errOut, res.Stderr)
}

func newClusterRestartCmd(f *Factory) *cobra.Command {
	var (
		rolling bool
		batch   int
	)
	cmd := &cobra.Command{
		Use:   "restart [SERVICE...]",
		Short: "Stop then start services across the cluster, or roll them host by host",
		Example: `  daemonctl cluster restart api-server
  daemonctl cluster restart --rolling            # a host at a time, each ready before the next
  daemonctl cluster restart --rolling --batch 2 worker-server`,
		ValidArgsFunction: completeServices(f),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case batch < 1:
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--batch %d: want 1 or more hosts", batch)}
			case cmd.Flags().Changed("batch") && !rolling:
				return &ExitError{Code: ExitUsage, Err: errors.New("--batch goes with --rolling")}
			}
			return nil
		},
		RunE: onCluster(f, func(r *cluster.Runner, ctx context.Context, names []string, report func(cluster.Step)) error {
			if !rolling {
				return r.Restart(ctx, names, report)
			}
			return r.RollingRestart(ctx, names, batch, report)
		}),
	}
	cmd.Flags().BoolVar(&rolling, "rolling", false, "restart a host (or --batch hosts) at a time in dependency order, each ready before the next; stop at the first that is not")
	cmd.Flags().IntVar(&batch, "batch", 1, "with --rolling, how many hosts restart at once")
	return cmd
}

func newClusterStatusCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "status [SERVICE...]",
		Short:             "Show services' state on every host that runs them (exit as status; 4 if a host cannot be asked)",
		Example:           "  daemonctl cluster status\n  daemonctl cluster status --json master-server",
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.clusterRunner()
			if err != nil {
				return err
			}
			hosts, code, err := r.Status(f.Interruptible(cmd), args)
			var unknown *config.UnknownServiceError
			if errors.As(err, &unknown) {
				return &ExitError{Code: ExitStatusUnknown, Err: err} // as status does
			}
			if err != nil {
				return clusterError(err)
			}
			if asJSON {
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				err = enc.Encode(struct {
					Hosts []cluster.HostStatus `json:"hosts"`
				}{hosts})
			} else {
				err = writeClusterTable(f.IO.Out, hosts)
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: {\"hosts\": [{\"host\", \"error\", \"services\"}]}")
	return cmd
}

// writeClusterTable prints every host's status table under one header,
// with the host first on each line and a CONFIG column for drift (the
// host's config differs from this one's; the running server's from its
// host's config), then what went wrong with any host, the drift, and
// which daemonctl each host runs.
func writeClusterTable(out io.Writer, hosts []cluster.HostStatus) error {
	return buffered(out, func(w io.Writer) error { return clusterTable(w, hosts) })
}

func clusterTable(w io.Writer, hosts []cluster.HostStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSERVICE\tSTATE\tPID\tUPTIME\tREADY\tRESTARTS\tLAST EXIT\tCONFIG")
	var notes bytes.Buffer
	versions := map[string][]string{}
	var versionOrder []string
	for _, h := range hosts {
		if h.Error != nil {
			fmt.Fprintf(tw, "%s\t-\tUNREACHABLE\t-\t-\t-\t-\t-\t-\n", h.Host)
			fmt.Fprintf(&notes, "%s: %s\n", h.Host, *h.Error)
			continue
		}
		if versions[h.Version] == nil {
			versionOrder = append(versionOrder, h.Version)
		}
		versions[h.Version] = append(versions[h.Version], h.Host)
		for _, st := range h.Services {
			differs := slices.Contains(h.ConfigDiffers, st.Name)
			column := configColumn(differs, st.ConfigChanged)
			if h.Settings == nil {
				column = "unknown" // a daemonctl that does not show its settings
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", h.Host, statusRow(st), column)
			if st.Detail != "" {
				fmt.Fprintf(&notes, "%s: %s: %s\n", h.Host, st.Name, st.Detail)
			}
			if differs {
				fmt.Fprintf(&notes, "%s: %s: its config there differs from this one's; see: daemonctl cluster diff %s\n", h.Host, st.Name, st.Name)
			}
			if st.ConfigChanged {
				fmt.Fprintf(&notes, "%s: %s: runs with settings its host's config no longer has; restart it there to apply\n", h.Host, st.Name)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range versionOrder {
		fmt.Fprintf(&notes, "daemonctl %s on %s\n", v, strings.Join(versions[v], ", "))
	}
	_, err := w.Write(notes.Bytes())
	return err
}

// configColumn is a service's CONFIG cell in cluster status: "same", or
// what differs: "differs" (the host's config from this one's),
// "changed" (the running server from its host's config), or both; a
// host whose daemonctl does not show its settings gets "unknown".
func configColumn(differs, changed bool) string {
	switch {
	case differs && changed:
		return "differs,changed"
	case differs:
		return "differs"
	case changed:
		return "changed"
	}
	return "same"
}

func newClusterDiffCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "diff [SERVICE...]",
		Short: "Show how each host's settings for its services differ from this config's (secrets masked; exit 1 if any do)",
		Example: `  daemonctl cluster diff
  daemonctl cluster diff worker-server`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.clusterRunner()
			if err != nil {
				return err
			}
			drifts, unreachable, err := r.Diff(f.Interruptible(cmd), args)
			if err != nil {
				return clusterError(err)
			}
			if err := writeDiff(f.IO.Out, drifts); err != nil {
				return err
			}
			for _, h := range unreachable {
				fmt.Fprintf(f.IO.Err, "%s: %s\n", h.Host, *h.Error)
			}
			switch {
			case len(unreachable) > 0:
				return &ExitError{Code: ExitStatusUnknown}
			case len(drifts) > 0:
				return &ExitError{Code: ExitFailed}
			}
			fmt.Fprintln(f.IO.Out, "every host's settings are this config's")
			return nil
		},
	}
}

// writeDiff prints each differing setting: host, service, key, the
// value here and there.
func writeDiff(out io.Writer, drifts []cluster.Drift) error {
	return buffered(out, func(w io.Writer) error { return diffTable(w, drifts) })
}

func diffTable(w io.Writer, drifts []cluster.Drift) error {
	if len(drifts) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSERVICE\tSETTING\tHERE\tTHERE")
	for _, d := range drifts {
		for _, k := range d.Keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Host, d.Service, k, d.Here[k], d.There[k])
		}
	}
	return tw.Flush()
}

// statusRow is one service's columns of a status table, tab-separated.
func statusRow(st state.Status) string {
	pid, uptime, ready, lastExit := "-", "-", "-", "-"
	if st.PID != nil {
		pid = fmt.Sprint(*st.PID)
	}
	if st.UptimeSeconds != nil {
		uptime = formatUptime(time.Duration(*st.UptimeSeconds * float64(time.Second)))
		ready = map[bool]string{true: "yes", false: "no"}[st.Ready]
	}
	if st.LastExit != nil {
		lastExit = st.LastExit.String()
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%s", st.Name, strings.ToUpper(string(st.State)), pid, uptime, ready, st.Restarts, lastExit)
}

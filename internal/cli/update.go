package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/lifecycle"
)

func newUpdateCmd(f *Factory) *cobra.Command {
	var (
		dryRun, asJSON bool
		opts           lifecycle.UpdateOptions
	)
	cmd := &cobra.Command{
		Use:   "update [SERVICE...]",
		Short: "Bring the running services in line with the config: start added, stop removed, restart changed",
		Example: `  daemonctl update --dry-run        # what would change
  daemonctl update
  daemonctl update --json --no-deps worker-server   # this host's share of a cluster`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.manager(asJSON)
			if err != nil {
				return err
			}
			opts.Names = args
			if dryRun {
				plan, err := m.PlanUpdate(opts)
				if err != nil {
					return reportFailures(f.IO.Err, err)
				}
				printPlan(f.IO.Out, plan, "would ")
				return nil
			}
			plan, err := m.Update(f.Interruptible(cmd), opts)
			if asJSON {
				return writeOutcomes(f.IO.Out, m, err)
			}
			printPlan(f.IO.Out, plan, "")
			return reportFailures(f.IO.Err, err)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be done, do nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was done to each service as JSON")
	cmd.Flags().BoolVar(&opts.NoDeps, "no-deps", false, "start only the named services, not what they depend on (which may run on another host)")
	return cmd
}

// printPlan prints an update plan, one line per kind of change; would is
// "would " for a dry run.
func printPlan(w io.Writer, p lifecycle.UpdatePlan, would string) {
	for _, line := range []struct {
		verb, why string
		names     []string
	}{
		{"stop", "no longer in the config", p.Stop},
		{"restart", "config changed", p.Restart},
		{"start", "added", p.Start},
		{"leave", "unchanged", p.Keep},
	} {
		if len(line.names) > 0 {
			fmt.Fprintf(w, "update: %s%s %s (%s)\n", would, line.verb, strings.Join(line.names, ", "), line.why)
		}
	}
}

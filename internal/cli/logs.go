package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/logs"
)

func newLogsCmd(f *Factory) *cobra.Command {
	var (
		follow bool
		lines  int
	)
	cmd := &cobra.Command{
		Use:   "logs SERVICE",
		Short: "Print the end of a service's log, and follow it with -f",
		Example: `  daemonctl logs master-server
  daemonctl logs -f -n 100 api-server`,
		ValidArgsFunction: completeServices(f),
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, services, err := f.Services(args)
			if err != nil {
				return err
			}
			path := services[0].LogFile
			tail, err := logs.Tail(path, lines)
			if err != nil {
				return err
			}
			for _, l := range tail {
				fmt.Fprintln(f.IO.Out, l)
			}
			if !follow {
				return nil
			}
			var end int64
			if fi, err := os.Stat(path); err == nil {
				end = fi.Size()
			}
			return logs.Follow(f.Interruptible(cmd), path, end, f.IO.Out)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing lines as they are written, across rotations")
	cmd.Flags().IntVarP(&lines, "lines", "n", 20, "how many lines to print first")
	return cmd
}

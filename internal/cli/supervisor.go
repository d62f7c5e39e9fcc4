package cli

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/supervisor"
)

const supervisorCmdName = "__supervisor"

// newSupervisorCmd is the hidden command `start` runs, once per run_dir,
// to supervise the services it starts.
func newSupervisorCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    supervisorCmdName,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The supervisor mostly sleeps in a few goroutines per
			// service: one thread and a tight heap keep it small.
			runtime.GOMAXPROCS(1)
			debug.SetGCPercent(25)
			return supervisor.Serve(f.Interruptible(cmd), f.Config)
		},
	}
}

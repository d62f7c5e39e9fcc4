package cli

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/supervise"
)

const monitorCmdName = "__monitor"

// reportFD is where `start` hands a monitor the pipe for its reports.
const reportFD = 3

// newMonitorCmd is the hidden command `start` runs as each service's
// monitor.
func newMonitorCmd(f *Factory) *cobra.Command {
	var adopt bool
	cmd := &cobra.Command{
		Use:    monitorCmdName + " SERVICE",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A monitor mostly sleeps: one thread and a small heap keep a
			// hundred of them cheap.
			runtime.GOMAXPROCS(1)
			debug.SetGCPercent(20)
			m, err := f.Manager()
			if err != nil {
				return err
			}
			services, err := m.Config().Select(args)
			if err != nil {
				return err
			}
			var report *os.File
			if !adopt && isPipe(reportFD) {
				report = os.NewFile(reportFD, "report")
			}
			return supervise.Run(cmd.Context(), supervise.Options{
				Config:  m.Config(),
				Service: services[0],
				Env: func(s *config.Service) ([]string, error) {
					env, err := m.Env(s)
					if err != nil {
						return nil, err
					}
					return env.Environ(), nil
				},
				Report: report,
				Adopt:  adopt,
			})
		},
	}
	cmd.Flags().BoolVar(&adopt, "adopt", false, "take over a running service whose monitor died")
	return cmd
}

func isPipe(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

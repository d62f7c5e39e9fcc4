package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/dolphinscheduler"
)

func newInitCmd(f *Factory) *cobra.Command {
	var (
		dsHome string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "init --dolphinscheduler DS_HOME",
		Short: "Write a daemonctl.yaml for an existing DolphinScheduler install",
		Example: `  daemonctl init --dolphinscheduler /opt/dolphinscheduler
  daemonctl -c /etc/daemonctl/ds.yaml init --dolphinscheduler /opt/ds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dsHome == "" {
				return &ExitError{Code: ExitUsage, Err: errors.New("init: --dolphinscheduler DS_HOME is required")}
			}
			path, err := dolphinscheduler.Write(dsHome, force)
			if errors.Is(err, dolphinscheduler.ErrExists) {
				fmt.Fprintf(f.IO.Err, "daemonctl: %v\n", err)
				fmt.Fprintln(f.IO.Out, path)
				return nil
			}
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			fmt.Fprintln(f.IO.Out, path)
			f.ConfigPath = path
			m, err := f.Manager()
			if err != nil {
				return err
			}
			for _, u := range m.Unmanaged() {
				fmt.Fprintf(f.IO.Out, "%s is running (pid %d), started by another tool; take it over with: daemonctl -c %s adopt %s --pid %d\n",
					u.Service, u.PID, path, u.Service, u.PID)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dsHome, "dolphinscheduler", "", "DOLPHINSCHEDULER_HOME of the install")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing daemonctl.yaml")
	return cmd
}

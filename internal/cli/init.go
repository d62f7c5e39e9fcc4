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
			return nil
		},
	}
	cmd.Flags().StringVar(&dsHome, "dolphinscheduler", "", "DOLPHINSCHEDULER_HOME of the install")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing daemonctl.yaml")
	return cmd
}

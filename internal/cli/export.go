package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/systemd"
)

func newExportCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "export",
		Short:   "Write the config out for another tool: systemd units",
		Example: "  daemonctl export systemd --dir /etc/systemd/system",
	}
	var dir string
	sd := &cobra.Command{
		Use:   "systemd [SERVICE...]",
		Short: "Write a systemd unit per service (Type=notify, ExecStart=daemonctl run SERVICE): to stdout, or a file each in --dir",
		Example: `  daemonctl export systemd master-server
  daemonctl export systemd --dir /etc/systemd/system && systemctl daemon-reload && systemctl enable --now daemonctl-master-server`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, services, err := f.Services(args)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			if real, err := filepath.EvalSymlinks(self); err == nil {
				self = real
			}
			if dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
			for i, s := range services {
				unit := systemd.Unit(cfg, s, self)
				if dir == "" {
					if i > 0 {
						fmt.Fprintln(f.IO.Out)
					}
					fmt.Fprintf(f.IO.Out, "# %s\n%s", systemd.UnitName(s.Name), unit)
					continue
				}
				path := filepath.Join(dir, systemd.UnitName(s.Name))
				if err := pidfile.WriteAtomic(path, []byte(unit), 0o644); err != nil {
					return err
				}
				fmt.Fprintln(f.IO.Out, path)
			}
			return nil
		},
	}
	sd.Flags().StringVar(&dir, "dir", "", "write one file per service into this directory")
	cmd.AddCommand(sd)
	return cmd
}

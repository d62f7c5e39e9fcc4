package cli

import (
	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/foreground"
)

func newRunCmd(f *Factory) *cobra.Command {
	var healthAddr string
	cmd := &cobra.Command{
		Use:   "run [SERVICE...]",
		Short: "Run services in the foreground (a container's entrypoint, a systemd unit): output on stdout, signals forwarded, exit status mirrored",
		Example: `  daemonctl run master-server          # ENTRYPOINT ["daemonctl", "run", "master-server"]
  daemonctl run registry master-server # a stack in one container: ends when one of them does`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			code, err := foreground.Run(f.Interruptible(cmd), foreground.Options{
				Config:  cfg,
				Load:    func() (*config.Config, error) { return config.Load(cfg.Path) },
				Environ: f.IO.Environ,
				Names:   args,
				Stdout:  f.IO.Out,
				Stderr:  f.IO.Err,

				HealthAddr: healthAddr,
			})
			if err != nil || code != 0 {
				return &ExitError{Code: max(code, 1), Err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&healthAddr, "health-addr", "", "serve /healthz, /readyz and /metrics on this address (e.g. :8080)")
	return cmd
}

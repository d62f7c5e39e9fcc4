package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/privilege"
)

// newExecCmd is the hidden helper the supervisor launches a service
// through when it runs as another user or with resource limits:
// `daemonctl __exec [flags] -- PATH ARGV...`.
func newExecCmd() *cobra.Command {
	var (
		uid, gid int
		groups   string
		drop     bool
		limits   []string
	)
	cmd := &cobra.Command{
		Use:    privilege.HelperCmd + " [flags] -- PATH ARGV...",
		Hidden: true,
		Args:   cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			lims := map[string]config.Limit{}
			for _, l := range limits {
				name, value, _ := strings.Cut(l, "=")
				v, err := config.ParseLimit(value)
				if err != nil {
					return fmt.Errorf("limit %s: %w", name, err)
				}
				lims[name] = v
			}
			var gids []int
			for _, g := range strings.Split(groups, ",") {
				if n, err := strconv.Atoi(g); err == nil {
					gids = append(gids, n)
				}
			}
			if err := privilege.Apply(uid, gid, gids, drop, lims); err != nil {
				return err
			}
			err := syscall.Exec(args[0], args[1:], os.Environ())
			return errors.Join(fmt.Errorf("exec %s", args[0]), err)
		},
	}
	cmd.Flags().IntVar(&uid, "uid", 0, "user to run as")
	cmd.Flags().IntVar(&gid, "gid", 0, "group to run as")
	cmd.Flags().StringVar(&groups, "groups", "", "supplementary groups")
	cmd.Flags().BoolVar(&drop, "drop", false, "change user, group and groups")
	cmd.Flags().StringArrayVar(&limits, "limit", nil, "NAME=VALUE resource limit")
	return cmd
}

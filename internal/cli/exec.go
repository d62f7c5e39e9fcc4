package cli

import (
	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/privilege"
)

// newExecCmd is the hidden helper the supervisor launches a service
// through when it runs as another user or with resource limits; package
// privilege encodes its arguments and decodes them.
func newExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:                privilege.HelperCmd + " [flags] -- PATH ARGV...",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return privilege.Helper(args)
		},
	}
}

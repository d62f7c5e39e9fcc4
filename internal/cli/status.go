package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
)

// ExitStatusUnknown is status's exit code for an unknown service or
// unreadable state.
const ExitStatusUnknown = 4

func newStatusCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [SERVICE...]",
		Short: "Show services' state (exit 0 running, 1 dead, 3 stopped, 4 unknown)",
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			statuses, err := m.Status(args)
			var unknown *config.UnknownServiceError
			if errors.As(err, &unknown) {
				return &ExitError{Code: ExitStatusUnknown, Err: err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				err = writeStatusJSON(f.IO.Out, statuses)
			} else {
				err = writeStatusTable(f.IO.Out, statuses)
			}
			if err != nil {
				return err
			}
			if code := lifecycle.ExitCode(statuses); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeStatusJSON(w io.Writer, statuses []lifecycle.Status) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Services []lifecycle.Status `json:"services"`
	}{statuses})
}

func writeStatusTable(w io.Writer, statuses []lifecycle.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tPID\tUPTIME\tREADY\tRESTARTS\tLAST EXIT")
	for _, st := range statuses {
		pid, uptime, ready, lastExit := "-", "-", "-", "-"
		if st.PID != nil {
			pid = fmt.Sprint(*st.PID)
		}
		if st.UptimeSeconds != nil {
			uptime = formatUptime(time.Duration(*st.UptimeSeconds * float64(time.Second)))
			ready = map[bool]string{true: "yes", false: "no"}[st.Ready]
		}
		if st.LastExit != nil {
			lastExit = st.LastExit.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", st.Name, strings.ToUpper(string(st.State)), pid, uptime, ready, st.Restarts, lastExit)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range statuses {
		if st.Detail != "" {
			fmt.Fprintf(w, "%s: %s\n", st.Name, st.Detail)
		}
	}
	return nil
}

func formatUptime(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 24*time.Hour:
		return d.Round(time.Minute).String()
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%s", days, (d - days*24*time.Hour).Round(time.Hour))
}

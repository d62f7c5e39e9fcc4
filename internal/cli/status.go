package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/drift"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
	"github.com/daemonctl/daemonctl/internal/state"
)

// ExitStatusUnknown is status's exit code for an unknown service or
// unreadable state.
const ExitStatusUnknown = 4

func newStatusCmd(f *Factory) *cobra.Command {
	var (
		asJSON   bool
		settings bool
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status [SERVICE...]",
		Short: "Show services' state (exit 0 running, 1 dead, 3 stopped, 4 unknown)",
		Example: `  daemonctl status
  daemonctl status master-server && echo up
  daemonctl status --json | jq '.services[] | select(.state != "running")'
  daemonctl status --watch`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			if watch {
				return watchStatus(f.Interruptible(cmd), f.IO.Out, m, args, interval, f.terminal())
			}
			statuses, err := m.Status(args)
			var unknown *config.UnknownServiceError
			if errors.As(err, &unknown) {
				return &ExitError{Code: ExitStatusUnknown, Err: err}
			}
			if err != nil {
				return err
			}
			switch {
			case asJSON && settings:
				err = writeStatusWithSettings(f.IO.Out, m.Config(), statuses)
			case asJSON:
				err = writeStatusJSON(f.IO.Out, statuses)
			default:
				err = writeStatusTable(f.IO.Out, statuses)
			}
			if err != nil {
				return err
			}
			if code := state.ExitCode(statuses); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&settings, "settings", false, "with --json, add daemonctl's version and each service's launch settings, secrets masked (what cluster status and cluster diff compare across hosts)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw the table until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "with --watch, time between redraws")
	return cmd
}

// ANSI sequences for redrawing in place.
const (
	cursorHome   = "\x1b[H"
	clearScreen  = "\x1b[2J"
	eraseLineEnd = "\x1b[K"
	eraseBelow   = "\x1b[J"
	hideCursor   = "\x1b[?25l"
	showCursor   = "\x1b[?25h"
)

// watchStatus redraws the status table every interval until ctx ends.
// On a terminal, each frame is built whole and written at once over the
// previous one, line by line with the rest of each line erased, so
// nothing flickers; elsewhere (a pipe, a file, NO_COLOR, TERM=dumb)
// frames follow each other, plain.
func watchStatus(ctx context.Context, w io.Writer, m *lifecycle.Manager, names []string, interval time.Duration, terminal bool) error {
	if terminal {
		fmt.Fprint(w, hideCursor+clearScreen)
		defer fmt.Fprint(w, showCursor+"\n")
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		statuses, err := m.Status(names)
		if err != nil {
			return err
		}
		var frame bytes.Buffer
		fmt.Fprintf(&frame, "daemonctl status   %s   every %s, Ctrl-C to quit\n\n", time.Now().Format(time.TimeOnly), interval)
		writeStatusTable(&frame, statuses)
		if !terminal {
			frame.WriteString("\n")
			if _, err := w.Write(frame.Bytes()); err != nil {
				return err
			}
		} else if err := redraw(w, frame.String()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// redraw writes frame over the previous one.
func redraw(w io.Writer, frame string) error {
	var out bytes.Buffer
	out.WriteString(cursorHome)
	for _, line := range strings.SplitAfter(frame, "\n") {
		out.WriteString(strings.TrimSuffix(line, "\n") + eraseLineEnd)
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	out.WriteString(eraseBelow)
	_, err := w.Write(out.Bytes())
	return err
}

func writeStatusJSON(w io.Writer, statuses []state.Status) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Services []state.Status `json:"services"`
	}{statuses})
}

// writeStatusWithSettings is status --json --settings: the statuses,
// this daemonctl's version, and the launch settings of every service
// shown that the config has.
func writeStatusWithSettings(w io.Writer, cfg *config.Config, statuses []state.Status) error {
	out := struct {
		Services []state.Status          `json:"services"`
		Version  string                  `json:"version"`
		Settings []drift.ServiceSettings `json:"settings"`
	}{statuses, version(), []drift.ServiceSettings{}}
	for _, st := range statuses {
		s := cfg.Services[st.Name]
		if s == nil {
			continue
		}
		ss, err := drift.Settings(cfg, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		out.Settings = append(out.Settings, ss)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeStatusTable(out io.Writer, statuses []state.Status) error {
	return buffered(out, func(w io.Writer) error { return statusTable(w, statuses) })
}

// buffered gives write a buffer over out, flushed once write is done:
// tabwriter writes every cell and every run of padding on its own, which
// unbuffered is a system call each (1,500 for a table of 100 services).
func buffered(out io.Writer, write func(w io.Writer) error) error {
	w := bufio.NewWriter(out)
	if err := write(w); err != nil {
		return err
	}
	return w.Flush()
}

func statusTable(w io.Writer, statuses []state.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tPID\tUPTIME\tREADY\tRESTARTS\tLAST EXIT")
	for _, st := range statuses {
		fmt.Fprintln(tw, statusRow(st))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range statuses {
		if st.Detail != "" {
			fmt.Fprintf(w, "%s: %s\n", st.Name, st.Detail)
		}
		if !st.InConfig {
			fmt.Fprintf(w, "%s: no longer in the config; stop ends it\n", st.Name)
		}
		if st.ConfigChanged {
			fmt.Fprintf(w, "%s: its config changed since it started; restart it (or update) to apply\n", st.Name)
		}
	}
	if len(statuses) == 1 && statuses[0].LastCrash != nil {
		writeCrash(w, statuses[0].LastCrash)
	}
	return nil
}

// writeCrash shows the last unexpected exit of one service.
func writeCrash(w io.Writer, c *state.Crash) {
	fmt.Fprintf(w, "\nlast crash: %s at %s\n", c.Exit, c.At.Local().Format(time.DateTime))
	if c.Reason != "" {
		fmt.Fprintf(w, "  ended by daemonctl: %s\n", c.Reason)
	}
	for _, a := range c.Artifacts {
		fmt.Fprintf(w, "  left behind: %s\n", a)
	}
	if len(c.LogTail) > 0 {
		fmt.Fprintf(w, "  last %d lines of its log:\n", len(c.LogTail))
		for _, line := range c.LogTail {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
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

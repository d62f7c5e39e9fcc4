// Package cli is daemonctl's command line: cobra commands that parse flags,
// call the lifecycle, cluster and export packages, print their results and
// map them to exit codes. It holds no lifecycle logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/configcache"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
)

// Exit codes shared by every command (LSB init-script conventions).
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// ExitError ends a command with Code. A nil Err prints nothing more.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// IO is where commands read and write.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	Environ  []string
}

// Factory builds what commands need, lazily: the config is loaded only by
// commands that use it, after flags are parsed.
type Factory struct {
	IO         IO
	ConfigPath string
	// Hosts limits the cluster commands to these hosts (--hosts).
	Hosts []string

	interrupt interrupt // see Interruptible
}

// Config loads the config named by --config, $DAEMONCTL_CONFIG or
// ./daemonctl.yaml. Its errors are usage errors (exit 2).
func (f *Factory) Config() (*config.Config, error) {
	path, from := f.ConfigPath, "-c"
	if path == "" {
		path, from = "daemonctl.yaml", ""
		for _, kv := range f.IO.Environ {
			if v, ok := strings.CutPrefix(kv, config.EnvVar+"="); ok && v != "" {
				path, from = v, "$"+config.EnvVar
			}
		}
	}
	cfg, err := configcache.Load(path, configcache.Dir(f.IO.Environ))
	if errors.Is(err, fs.ErrNotExist) {
		err = missingConfig(path, from)
	}
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	return cfg, nil
}

// missingConfig says where daemonctl looked for its config (named by
// from: -c, $DAEMONCTL_CONFIG, or nothing for the default) and how to
// point it at one.
func missingConfig(path, from string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	where := fmt.Sprintf("no config file at %s", abs)
	if from != "" {
		where += " (named by " + from + ")"
	} else {
		where += " (the default: ./daemonctl.yaml, since neither -c nor $" + config.EnvVar + " names one)"
	}
	return fmt.Errorf("%s\n  name one with -c FILE or %s=FILE, or write one for a DolphinScheduler install with `daemonctl init --dolphinscheduler DS_HOME`", where, config.EnvVar)
}

// Services loads the config and selects the named services (all with
// none named); an unknown name is a usage error.
func (f *Factory) Services(names []string) (*config.Config, []*config.Service, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	services, err := cfg.Select(names)
	if err != nil {
		return nil, nil, &ExitError{Code: ExitUsage, Err: err}
	}
	return cfg, services, nil
}

// terminal reports whether output may carry terminal control codes: it
// goes to a terminal, and neither NO_COLOR (no-color.org) nor TERM=dumb
// says otherwise.
func (f *Factory) terminal() bool {
	for _, kv := range f.IO.Environ {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return false
		}
		if kv == "TERM=dumb" {
			return false
		}
	}
	out, ok := f.IO.Out.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(out.Fd()), unix.TCGETS)
	return err == nil
}

// Manager returns a lifecycle manager for the config.
func (f *Factory) Manager() (*lifecycle.Manager, error) { return f.manager(false) }

// manager is Manager; quiet drops its progress lines (for --json).
func (f *Factory) manager(quiet bool) (*lifecycle.Manager, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	out := f.IO.Out
	if quiet {
		out = io.Discard
	}
	return lifecycle.New(cfg, f.IO.Environ, out, f.supervisorCommand(cfg)), nil
}

// supervisorCommand runs this very binary as the supervisor, under the name
// "daemonctl" (test binaries dispatch on it).
func (f *Factory) supervisorCommand(cfg *config.Config) lifecycle.SupervisorCommand {
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	return lifecycle.SupervisorCommand{Path: self, Args: []string{"daemonctl", "--config", cfg.Path, supervisorCmdName}}
}

// NewRoot returns the daemonctl command tree.
func NewRoot(f *Factory) *cobra.Command {
	root := newBareRoot(f)
	root.AddCommand(
		newStartCmd(f),
		newClusterCmd(f),
		newStopCmd(f),
		newRestartCmd(f),
		newUpdateCmd(f),
		newAdoptCmd(f),
		newPrepareCmd(f),
		newRunCmd(f),
		newMetricsCmd(f),
		newExportCmd(f),
		newProbeCmd(f),
		newEnvCmd(f),
		newVersionCmd(),
		newStatusCmd(f),
		newLogsCmd(f),
		newCheckCmd(f),
		newInitCmd(f),
		newSupervisorCmd(f),
		newExecCmd(),
	)
	usageErrors(root)
	return root
}

// hotCommands are built alone when they are the first argument: a status
// or a stop run every few seconds by a script or a probe need not build
// the other commands, which was a third of a millisecond of each
// (BENCHMARKS.md, seventh session). Their help and their errors are the
// same either way (TestAHotCommandAloneSaysWhatTheWholeTreeSays).
var hotCommands = map[string]func(*Factory) *cobra.Command{
	"start":   newStartCmd,
	"stop":    newStopCmd,
	"restart": newRestartCmd,
	"status":  newStatusCmd,
}

// newRootFor returns the command tree that runs args: the root with the
// one command args name first when it is a hot one, else NewRoot's.
func newRootFor(f *Factory, args []string) *cobra.Command {
	if len(args) == 0 || hotCommands[args[0]] == nil {
		return NewRoot(f)
	}
	root := newBareRoot(f)
	root.AddCommand(hotCommands[args[0]](f))
	root.CompletionOptions.DisableDefaultCmd = true // asked for by name only
	usageErrors(root)
	return root
}

// newBareRoot returns the root command with its own flags and no command
// under it.
func newBareRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "daemonctl",
		Short:         "Start, stop, watch and restart the servers of a distributed system",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		Example: `  daemonctl start && daemonctl status
  daemonctl -c /opt/ds/daemonctl.yaml stop master-server
  DAEMONCTL_CONFIG=/opt/ds/daemonctl.yaml daemonctl logs -f api-server`,
	}
	root.PersistentFlags().StringVarP(&f.ConfigPath, "config", "c", "", "config file (default $DAEMONCTL_CONFIG, else ./daemonctl.yaml)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\n%s", err, c.UsageString())}
	})
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.Err)
	return root
}

// Main runs daemonctl with args and returns its exit code.
func Main(args []string, streams IO) int {
	f := &Factory{IO: streams}
	defer f.release()
	root := newRootFor(f, args)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return exitCode(err, streams.Err)
}

// exitCode prints err (if it says anything) and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "daemonctl:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "daemonctl:", err)
	var (
		unknown *config.UnknownServiceError
		envErr  *lifecycle.EnvError
		removed *lifecycle.RemovedError
	)
	if errors.As(err, &unknown) || errors.As(err, &envErr) || errors.As(err, &removed) {
		return ExitUsage
	}
	return ExitFailed
}

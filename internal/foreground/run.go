// Package foreground runs services in the foreground, as a container's
// entrypoint or a systemd unit's ExecStart does (`daemonctl run`): the
// run is the services' supervisor (package supervisor, in this process:
// their parent and a child subreaper, or PID 1), their output goes to its
// stdout, signals sent to it reach them, and it ends when they end,
// exiting with their status. Other commands (status, stop) see and act on
// its services through run_dir as they do on any.
package foreground

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/lifecycle"
	"github.com/daemonctl/daemonctl/internal/monitor"
	"github.com/daemonctl/daemonctl/internal/notify"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
	"github.com/daemonctl/daemonctl/internal/supervisor"
)

// Options say what a run runs and where its words go.
type Options struct {
	Config  *config.Config
	Load    func() (*config.Config, error) // the config as it stands, for relaunches
	Environ []string
	// Names are the services to run (with what they depend on); none
	// means every service that starts with all.
	Names []string
	// Stdout receives the services' output; Stderr, the run's own words.
	Stdout, Stderr io.Writer
	// HealthAddr, if set, is where /healthz, /readyz and /metrics are
	// served (serveHealth).
	HealthAddr string
}

// forwarded are the signals a run passes on to every process of its
// services' trees; SIGTERM and SIGINT stop them instead, as `stop` does.
var forwarded = []os.Signal{unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}

// Run runs the services until they end, a SIGTERM or SIGINT stops them,
// or one of them ends for good (stopped, failed, not to be restarted),
// which stops the others, dependents first. It returns the exit status to
// mirror: that service's (its code, or 128 plus its signal), or the first
// named service's after a stop.
func Run(ctx context.Context, opts Options) (int, error) {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, append([]os.Signal{unix.SIGTERM, unix.SIGINT}, forwarded...)...)
	defer signal.Stop(signals)

	services, err := opts.Config.Select(opts.Names)
	if err != nil {
		return 2, err
	}
	if len(opts.Names) == 0 {
		services = slices.DeleteFunc(services, func(s *config.Service) bool { return !*s.StartWithAll })
	}
	services = opts.Config.WithDependencies(services)
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
	}
	ended := make(chan string, len(opts.Config.Services))
	var mu sync.Mutex
	socket := fmt.Sprintf("run-%d.sock", os.Getpid())
	supOpts := supervisor.Options{
		Foreground: true,
		Socket:     socket,
		Output: func(s *config.Service) monitor.Output {
			prefix := ""
			if len(names) > 1 {
				prefix = s.Name + " | "
			}
			return &lines{mu: &mu, w: opts.Stdout, prefix: []byte(prefix)}
		},
		Ended: func(name string) {
			select {
			case ended <- name:
			default: // the run is ending already
			}
		},
	}
	listening := make(chan struct{})
	supOpts.Listening = listening
	supCtx, stopSupervisor := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- supervisor.ServeWith(supCtx, opts.Load, supOpts) }()
	select {
	case <-listening:
	case err := <-served:
		stopSupervisor()
		return 1, err
	}
	defer func() {
		stopSupervisor()
		<-served
	}()

	notifier, watchdog := notify.FromEnviron(opts.Environ, os.Getpid())
	m := lifecycle.New(opts.Config, notify.Unset(opts.Environ), opts.Stderr, lifecycle.SupervisorCommand{})
	m.UseSupervisor(socket)
	if opts.HealthAddr != "" {
		if err := serveHealth(supCtx, opts.HealthAddr, m, names); err != nil {
			return 1, err
		}
	}
	if watchdog > 0 {
		go pingWatchdog(supCtx, notifier, watchdog)
	}
	first := names[0]
	if len(opts.Names) > 0 {
		first = opts.Names[0]
	}
	startCtx, cancelStart := context.WithCancel(ctx)
	started := make(chan error, 1)
	go func() { started <- m.Start(startCtx, names) }()
	for {
		select {
		case err := <-started:
			started = nil
			if err != nil {
				fmt.Fprintf(opts.Stderr, "daemonctl: run: %v; stopping what started\n", err)
				notifier.Send("STOPPING=1", "STATUS=start failed: "+oneLine(err))
				stopAll(m, names, opts.Stderr)
				cancelStart()
				return failedStatus(m, first), nil
			}
			notifier.Send("READY=1", fmt.Sprintf("STATUS=%d service(s) running and ready", len(names)))
		case sig := <-signals:
			if sig == unix.SIGTERM || sig == unix.SIGINT {
				cancelStart()
				notifier.Send("STOPPING=1", "STATUS=stopping on "+unix.SignalName(sig.(unix.Signal)))
				stopAll(m, names, opts.Stderr)
				return exitStatus(m, first), nil
			}
			forward(m, services, sig.(unix.Signal))
		case name := <-ended:
			cancelStart()
			fmt.Fprintf(opts.Stderr, "daemonctl: run: %s ended; stopping the others\n", name)
			notifier.Send("STOPPING=1", "STATUS="+name+" ended; stopping the others")
			stopAll(m, names, opts.Stderr)
			return exitStatus(m, name), nil
		}
	}
}

// stopAll stops every service of the run, dependents first, as `stop`
// does: every process of each tree gets the stop signal, SIGKILL after
// the grace period.
func stopAll(m *lifecycle.Manager, names []string, stderr io.Writer) {
	if err := m.Stop(context.Background(), names, lifecycle.StopOptions{}); err != nil {
		fmt.Fprintf(stderr, "daemonctl: run: stop: %v\n", err)
	}
}

// forward sends sig to every process of every running service's tree.
func forward(m *lifecycle.Manager, services []*config.Service, sig unix.Signal) {
	store := state.Store{Dir: m.Config().RunDir}
	for _, s := range services {
		rec, err := store.Read(s.Name)
		if err != nil || rec == nil || !rec.Leader.Alive() {
			continue
		}
		members, _ := rec.Tree().Members()
		for _, id := range slices.Insert(members, 0, rec.Leader) {
			if h, err := proc.Open(id); err == nil {
				h.Signal(sig)
				h.Close()
			}
		}
	}
}

// exitStatus is the status a run mirrors for service name: its last
// exit's code, or 128 plus the signal that ended it.
func exitStatus(m *lifecycle.Manager, name string) int {
	rec, err := state.Store{Dir: m.Config().RunDir}.Read(name)
	switch {
	case err != nil || rec == nil || rec.LastExit == nil:
		return 0
	case rec.LastExit.Code < 0:
		return 1 // unknown: a failure
	}
	return rec.LastExit.Code // 128+signal when one ended it
}

// failedStatus is exitStatus, at least 1: the run failed to start.
func failedStatus(m *lifecycle.Manager, name string) int {
	return max(exitStatus(m, name), 1)
}

// pingWatchdog tells systemd the run is alive every interval (half its
// WatchdogSec) until ctx ends.
func pingWatchdog(ctx context.Context, n notify.Notifier, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			n.Send("WATCHDOG=1")
		}
	}
}

func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

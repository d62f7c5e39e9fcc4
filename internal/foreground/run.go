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

// forwarded are the signals a run passes on to its services' main
// processes; SIGTERM and SIGINT stop them instead, as `stop` does.
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

	services, err := runSet(opts.Config, opts.Names)
	if err != nil {
		return 2, err
	}
	r := &run{opts: opts, services: services, ended: make(chan string, len(opts.Config.Services)),
		socket: fmt.Sprintf("run-%d.sock", os.Getpid())}
	for _, s := range services {
		r.names = append(r.names, s.Name)
	}
	stopSupervisor, err := r.serve(ctx)
	if err != nil {
		return 1, err
	}
	defer stopSupervisor()
	notifier, watchdog := notify.FromEnviron(opts.Environ, os.Getpid())
	r.m = lifecycle.New(opts.Config, notify.Unset(opts.Environ), opts.Stderr, lifecycle.SupervisorCommand{})
	r.m.UseSupervisor(r.socket)
	if err := r.refuseRunning(); err != nil {
		return 1, err
	}
	if opts.HealthAddr != "" {
		if err := serveHealth(r.supCtx, opts.HealthAddr, r.m, r.names); err != nil {
			return 1, err
		}
	}
	if watchdog > 0 {
		go pingWatchdog(r.supCtx, notifier, watchdog)
	}
	return r.loop(ctx, signals, notifier), nil
}

// runSet is what a run runs: the named services, or all that start with
// all, and what they depend on.
func runSet(cfg *config.Config, names []string) ([]*config.Service, error) {
	services, err := cfg.Select(names)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		services = slices.DeleteFunc(services, func(s *config.Service) bool { return !*s.StartWithAll })
	}
	return cfg.WithDependencies(services), nil
}

// run is one daemonctl run under way.
type run struct {
	opts     Options
	services []*config.Service
	names    []string
	socket   string      // its supervisor's, in run_dir
	ended    chan string // services whose monitor ended
	supCtx   context.Context
	m        *lifecycle.Manager
}

// serve starts the run's supervisor in this process and returns once it
// answers, with the function that ends it.
func (r *run) serve(ctx context.Context) (func(), error) {
	var mu sync.Mutex
	listening := make(chan struct{})
	opts := supervisor.Options{
		Foreground: true,
		Socket:     r.socket,
		Listening:  listening,
		Output: func(s *config.Service) monitor.Output {
			prefix := ""
			if len(r.names) > 1 {
				prefix = s.Name + " | "
			}
			return newLines(&mu, r.opts.Stdout, prefix)
		},
		Ended: func(name string) {
			select {
			case r.ended <- name:
			default: // the run is ending already
			}
		},
	}
	supCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.supCtx = supCtx
	served := make(chan error, 1)
	go func() { served <- supervisor.ServeWith(supCtx, r.opts.Load, opts) }()
	select {
	case <-listening:
		return func() { cancel(); <-served }, nil
	case err := <-served:
		cancel()
		return nil, err
	}
}

// refuseRunning refuses a run of services that run already, under
// another supervisor or started by another tool: their output would not
// be the run's.
func (r *run) refuseRunning() error {
	statuses, err := r.m.Status(r.names)
	if err != nil {
		return err
	}
	for _, st := range statuses {
		if st.PID != nil && st.State != state.Dead {
			return fmt.Errorf("%s is already running (pid %d, %s): a run starts its own; stop it first", st.Name, *st.PID, st.State)
		}
	}
	return nil
}

// loop starts the services, then waits for the run's end: a stop signal,
// or a service that ended. It returns the exit status to mirror.
func (r *run) loop(ctx context.Context, signals <-chan os.Signal, notifier notify.Notifier) int {
	first := r.names[0]
	if len(r.opts.Names) > 0 {
		first = r.opts.Names[0]
	}
	startCtx, cancelStart := context.WithCancel(ctx)
	defer cancelStart()
	started := make(chan error, 1)
	go func() { started <- r.m.Start(startCtx, r.names) }()
	for {
		select {
		case err := <-started:
			started = nil
			if err != nil {
				fmt.Fprintf(r.opts.Stderr, "daemonctl: run: %v; stopping what started\n", err)
				notifier.Send("STOPPING=1", "STATUS=start failed: "+oneLine(err))
				r.stopAll()
				return max(exitStatus(r.m, first), 1)
			}
			if err := r.checkOwn(); err != nil {
				// Another run or start got there first: its service is not
				// ours to show or to stop; ours are stopped.
				fmt.Fprintf(r.opts.Stderr, "daemonctl: run: %v\n", err)
				r.stopOwn()
				return 1
			}
			notifier.Send("READY=1", fmt.Sprintf("STATUS=%d service(s) running and ready", len(r.names)))
		case sig := <-signals:
			if sig == unix.SIGTERM || sig == unix.SIGINT {
				cancelStart()
				notifier.Send("STOPPING=1", "STATUS=stopping on "+unix.SignalName(sig.(unix.Signal)))
				r.stopAll()
				return exitStatus(r.m, first)
			}
			forward(r.m, r.services, sig.(unix.Signal))
		case name := <-r.ended:
			cancelStart()
			fmt.Fprintf(r.opts.Stderr, "daemonctl: run: %s ended; stopping the others\n", name)
			notifier.Send("STOPPING=1", "STATUS="+name+" ended; stopping the others")
			r.stopAll()
			return exitStatus(r.m, name)
		}
	}
}

// checkOwn makes sure every service of the run is supervised by this
// run: a start racing it (another run, a start) may have launched one
// first, which `start` then reports as already running.
func (r *run) checkOwn() error {
	for _, name := range r.names {
		if !r.owns(name) {
			return fmt.Errorf("%s was started by another command first (its supervisor is not this run)", name)
		}
	}
	return nil
}

func (r *run) owns(name string) bool {
	rec, err := state.Store{Dir: r.opts.Config.RunDir}.Read(name)
	return err == nil && rec != nil && rec.Supervisor != nil && rec.Supervisor.PID == os.Getpid()
}

// stopOwn stops the services of the run that this run supervises.
func (r *run) stopOwn() {
	var own []string
	for _, name := range r.names {
		if r.owns(name) {
			own = append(own, name)
		}
	}
	if len(own) > 0 {
		if err := r.m.Stop(context.Background(), own, lifecycle.StopOptions{}); err != nil {
			fmt.Fprintf(r.opts.Stderr, "daemonctl: run: stop: %v\n", err)
		}
	}
}

// stopAll stops every service of the run, dependents first, as `stop`
// does: every process of each tree gets the stop signal, SIGKILL after
// the grace period.
func (r *run) stopAll() {
	if err := r.m.Stop(context.Background(), r.names, lifecycle.StopOptions{}); err != nil {
		fmt.Fprintf(r.opts.Stderr, "daemonctl: run: stop: %v\n", err)
	}
}

// forward sends sig to every running service's main process (the leader
// daemonctl launched), as tini does: a server that does not handle HUP or
// USR1 dies of it, so it is not sprayed over the whole tree; a wrapper
// that does not exec passes it on if its server needs it.
func forward(m *lifecycle.Manager, services []*config.Service, sig unix.Signal) {
	store := state.Store{Dir: m.Config().RunDir}
	for _, s := range services {
		rec, err := store.Read(s.Name)
		if err != nil || rec == nil || !rec.Leader.Alive() {
			continue
		}
		if h, err := proc.Open(rec.Leader); err == nil {
			h.Signal(sig)
			h.Close()
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

package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// AdoptOptions say which process Adopt takes over.
type AdoptOptions struct {
	PID         int  // this process
	FromPidfile bool // the process the service's pid file names
	// Force adopts a process whose command line does not show the
	// service's script.
	Force bool
}

// Adopt takes over the server of service name that another tool started
// (dolphinscheduler-daemon.sh): with neither PID nor FromPidfile, the one
// status finds. It must plausibly be the service (it runs the service's
// script) unless Force. Its identity is recorded, so that status, stop and
// restart act on its whole tree, and the supervisor watches it (its
// restart policy applies once it dies); its output is not captured.
func (m *Manager) Adopt(ctx context.Context, name string, opts AdoptOptions) error {
	m.newScan()
	services, err := m.cfg.Select([]string{name})
	if err != nil {
		return err
	}
	s := services[0]
	l, err := m.lock(ctx, s)
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	defer l.Release()
	o := m.observe(s)
	if o.RecordErr != nil {
		return &ServiceError{Service: s.Name, Err: unreadableRecord(o.RecordErr)}
	}
	if o.Running() || o.Launching() {
		return &ServiceError{Service: s.Name, Err: fmt.Errorf("already run by daemonctl (pid %d): nothing to adopt", o.Record.Leader.PID)}
	}
	id, err := m.adoptee(s, o, opts)
	if err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	if _, err := m.adoptLocked(ctx, s, o, id); err != nil {
		return &ServiceError{Service: s.Name, Err: err}
	}
	m.printf("%s adopted (pid %d: %s); its output goes where it went before, not through daemonctl: restart it to have daemonctl run it fully", s.Name, id.PID, foreign(s, id).Command)
	return nil
}

// adoptee finds the process Adopt is to take over, and checks it.
func (m *Manager) adoptee(s *config.Service, o state.Observation, opts AdoptOptions) (proc.Identity, error) {
	pid := opts.PID
	switch {
	case pid != 0:
	case opts.FromPidfile && o.PidErr != nil:
		return proc.Identity{}, o.PidErr
	case opts.FromPidfile && o.PidFilePID == 0:
		return proc.Identity{}, fmt.Errorf("no pid file at %s", s.PidFile)
	case opts.FromPidfile:
		pid = o.PidFilePID
	case o.Foreign != nil:
		pid = o.Foreign.PID
	default:
		return proc.Identity{}, errors.New("no server of it found running: name one with --pid PID or --from-pidfile")
	}
	info, err := proc.Inspect(pid)
	if err != nil || info.Zombie {
		return proc.Identity{}, fmt.Errorf("pid %d is not running", pid)
	}
	script := scriptPath(s)
	if !opts.Force && (script == "" || !runs(pid, script)) {
		what := "its command identifies no script to look for"
		if script != "" {
			what = "its command line does not run " + script
		}
		return proc.Identity{}, fmt.Errorf("pid %d does not look like %s (%s): refused; --force adopts it anyway", pid, s.Name, what)
	}
	return info.Identity, nil
}

// adoptLocked records id as service s's running instance, points the pid
// file at it, and has the supervisor watch it. The caller holds s's lock.
func (m *Manager) adoptLocked(ctx context.Context, s *config.Service, o state.Observation, id proc.Identity) (*state.Record, error) {
	in := state.Instance{Leader: id, PidFile: s.PidFile, LogFile: s.LogFile,
		StopSignal: int(s.StopSignal), StopTimeout: s.StopTimeout.Std()}
	rec, err := state.Adopt(o.Record, s.Name, in)
	if err != nil {
		return nil, err
	}
	if err := m.writeRecord(s, rec); err != nil {
		return nil, err
	}
	if o.PidFilePID != id.PID {
		if err := pidfile.WritePID(s.PidFile, id.PID); err != nil {
			return nil, err
		}
	}
	if err := m.takeOver(s, rec); err != nil {
		return nil, fmt.Errorf("adopted, but no supervisor watches it: %w", err)
	}
	return rec, nil
}

// foreignError says that service's server was started by another tool,
// and what is not done about it.
func foreignError(f *state.Foreign, notDone string) error {
	return fmt.Errorf("already running, started by another tool, not by daemonctl (pid %d: %s): %s; `daemonctl adopt %s --pid %d` takes it over",
		f.PID, f.Command, notDone, f.Service, f.PID)
}

// liveProcess reports whether pid is a live process.
func liveProcess(pid int) bool {
	info, err := proc.Inspect(pid)
	return err == nil && !info.Zombie
}

// Unmanaged lists the services whose servers run, started by another tool
// (Adopt takes them over).
func (m *Manager) Unmanaged() []state.Foreign {
	m.newScan()
	var out []state.Foreign
	for _, s := range m.services() {
		if f := m.observe(s).Foreign; f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// foreignPidFile reports whether the service's pid file names a live
// process that no record of daemonctl's named: another tool's pid file
// (upstream's script), or a stale one whose pid now runs something else.
// Such a file is never removed nor overwritten; one daemonctl wrote for
// an instance that is gone (its pid reused since, a reboot) may be.
func foreignPidFile(o state.Observation) bool {
	pid := o.PidFilePID
	if pid == 0 || !liveProcess(pid) {
		return false
	}
	return o.Record == nil || o.Record.Leader.PID != pid
}

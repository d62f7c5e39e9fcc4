package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// State is what status reports for a service.
type State string

// The states of a service, as the contract names them.
const (
	Running  State = "running"  // its process runs and is ready
	Starting State = "starting" // its process runs, readiness not seen yet
	Stopping State = "stopping" // a stop is under way
	Stopped  State = "stopped"  // not running, and the last word was a stop (or none)
	Dead     State = "dead"     // it ended without a stop, or its pid file names a process that is not its own
	Failed   State = "failed"   // start gave up on it
	Unknown  State = "unknown"  // its state cannot be read
)

// Status is one service's state, as `status` prints it.
type Status struct {
	Name          string           `json:"name"`
	State         State            `json:"state"`
	PID           *int             `json:"pid"`
	StartedAt     *time.Time       `json:"started_at"`
	UptimeSeconds *float64         `json:"uptime_seconds"`
	Ready         bool             `json:"ready"`
	Restarts      int              `json:"restarts"`
	LastExit      *proc.ExitStatus `json:"last_exit"`
	LastCrash     *pidfile.Crash   `json:"last_crash,omitempty"`
	// SupervisorPID is the supervisor watching the service, while it does.
	SupervisorPID *int   `json:"supervisor_pid"`
	PidFile       string `json:"pid_file"`
	LogFile       string `json:"log_file"`
	// Detail says why a service is dead, failed or unknown.
	Detail string `json:"detail,omitempty"`
}

// observation is what daemonctl can see of a service right now.
type observation struct {
	record       *pidfile.State // nil: never started by daemonctl, or record unreadable
	leaderAlive  bool
	monitorAlive bool
	pidFilePID   int   // 0: no pid file
	recordErr    error // the record cannot be read
	pidErr       error // the pid file cannot be read
	// stopInterrupted: the record says stopping, but no stop holds the
	// service's lock: the stop died half-way.
	stopInterrupted bool
	// orphans counts processes of an instance whose launch was
	// interrupted before its leader was recorded.
	orphans int
}

func (m *Manager) observe(s *config.Service) observation {
	o := m.readRecords(s)
	if r := o.record; r != nil {
		o.leaderAlive = r.Leader.Alive()
		o.monitorAlive = r.Monitor != nil && r.Monitor.Alive()
		if r.Phase == pidfile.PhaseStopping {
			o.stopInterrupted = m.store.Unlocked(s.Name)
		}
		if r.Token != "" && r.Leader.PID == 0 && !o.monitorAlive {
			members, _ := r.Tree().Members()
			o.orphans = len(members)
		}
	}
	return o
}

// readRecords reads the state record, then the pid file. A launch writes
// them in that order too, so a pid file that does not name the record's
// leader may have been written after the record was read, with a record
// naming it already in place: both are read again (twice at most) before
// the mismatch is believed, or status would call a service that is just
// starting dead.
func (m *Manager) readRecords(s *config.Service) observation {
	var o observation
	for range 3 {
		o = observation{}
		o.record, o.recordErr = m.readState(s)
		pid, err := pidfile.ReadPID(s.PidFile)
		switch {
		case err == nil:
			o.pidFilePID = pid
		case !errors.Is(err, fs.ErrNotExist):
			o.pidErr = err
		}
		if o.pidFilePID == 0 || (o.record != nil && o.record.Leader.PID == o.pidFilePID) {
			break
		}
	}
	return o
}

// running reports whether the recorded instance is alive and not stopped.
func (o observation) running() bool {
	return o.record != nil && o.leaderAlive && o.record.Phase != pidfile.PhaseStopped && o.record.Phase != pidfile.PhaseFailed
}

// launching reports whether a monitor is starting the service and has not
// recorded its process yet.
func (o observation) launching() bool {
	r := o.record
	return r != nil && !o.leaderAlive && o.monitorAlive && r.Phase == pidfile.PhaseStarting && r.NextRestart == nil
}

// restarting reports whether a monitor waits to start the service again.
func (o observation) restarting() bool {
	r := o.record
	return r != nil && !o.leaderAlive && o.monitorAlive && r.NextRestart != nil && !r.StopRequested() && r.Phase != pidfile.PhaseFailed
}

// state classifies an observation. This is the one place that decides
// what a service's state is.
func (o observation) state() (State, string) {
	r := o.record
	switch {
	case o.recordErr != nil:
		return Unknown, o.recordErr.Error()
	case o.running():
		switch {
		case r.Phase == pidfile.PhaseStarting:
			return Starting, ""
		case r.Phase == pidfile.PhaseStopping && o.stopInterrupted:
			return Running, "a stop began but was interrupted; stop (or start) finishes it"
		case r.Phase == pidfile.PhaseStopping:
			return Stopping, ""
		}
		return Running, r.LogError
	case r != nil && r.Phase == pidfile.PhaseStopping && o.stopInterrupted:
		return Stopped, "its stop was interrupted after it ended; the next stop or start tidies up"
	case r != nil && r.Phase == pidfile.PhaseStopping:
		// Its leader is gone but the stop is still waiting for the rest of
		// its tree, or about to record that it stopped.
		return Stopping, ""
	case o.orphans > 0:
		return Dead, fmt.Sprintf("its launch was interrupted; %d process(es) of it still run, which stop or start ends", o.orphans)
	case o.launching():
		return Starting, ""
	case o.restarting():
		return Dead, fmt.Sprintf("%s; restarting in %s (restart %d)", exitNote(r), time.Until(*r.NextRestart).Round(100*time.Millisecond), r.Restarts)
	case r != nil && r.Phase == pidfile.PhaseFailed:
		return Failed, failedDetail(r)
	case r != nil && r.Phase != pidfile.PhaseStopped:
		detail := fmt.Sprintf("pid %d ended without a stop", r.Leader.PID)
		if r.LastExit != nil {
			detail += " (" + r.LastExit.String() + ")"
		}
		return Dead, detail
	case o.pidErr != nil:
		return Unknown, o.pidErr.Error()
	case o.pidFilePID != 0:
		return Dead, fmt.Sprintf("pid file names pid %d, which is not a process daemonctl started for this service", o.pidFilePID)
	}
	return Stopped, ""
}

func failedDetail(r *pidfile.State) string {
	if r.Restarts > 0 {
		return fmt.Sprintf("gave up after %d restarts: %s", r.Restarts, exitNote(r))
	}
	return "start gave up: " + exitNote(r)
}

func exitNote(r *pidfile.State) string {
	if r.LastExit != nil {
		return r.LastExit.String()
	}
	return "not ready"
}

func (m *Manager) status(s *config.Service) Status {
	o := m.observe(s)
	state, detail := o.state()
	st := Status{Name: s.Name, State: state, PidFile: s.PidFile, LogFile: s.LogFile, Detail: detail}
	if r := o.record; r != nil {
		st.Restarts, st.LastExit, st.LastCrash = r.Restarts, r.LastExit, r.LastCrash
		if o.monitorAlive && (o.running() || o.launching() || o.restarting()) {
			pid := r.Monitor.PID
			st.SupervisorPID = &pid
		}
		if o.running() {
			pid := r.Leader.PID
			started := r.StartedAt
			up := time.Since(started).Seconds()
			st.PID, st.StartedAt, st.UptimeSeconds = &pid, &started, &up
			st.Ready = r.Phase == pidfile.PhaseRunning
		}
	}
	if st.PID == nil && state == Dead && o.pidFilePID != 0 {
		pid := o.pidFilePID
		st.PID = &pid
	}
	return st
}

// Status reports the named services (all when none is named).
func (m *Manager) Status(names []string) ([]Status, error) {
	services, err := m.cfg.Select(names)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(services))
	for i, s := range services {
		out[i] = m.status(s)
	}
	return out, nil
}

// ExitCode is the LSB status exit code for a set of services: the worst
// wins, in the order 4 (unknown), 1 (dead or failed), 3 (stopped), 0.
func ExitCode(statuses []Status) int {
	rank := map[int]int{0: 0, 3: 1, 1: 2, 4: 3}
	worst := 0
	for _, st := range statuses {
		code := 0
		switch st.State {
		case Unknown:
			code = 4
		case Dead, Failed:
			code = 1
		case Stopped:
			code = 3
		}
		if rank[code] > rank[worst] {
			worst = code
		}
	}
	return worst
}

package state

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// Reported is a service's state as `status` reports it.
type Reported string

// The states of a service, as the contract names them.
const (
	Running  Reported = "running"  // its process runs and is ready
	Starting Reported = "starting" // its process runs, readiness not seen yet
	Stopping Reported = "stopping" // a stop is under way
	Stopped  Reported = "stopped"  // not running, and the last word was a stop (or none)
	Dead     Reported = "dead"     // it ended without a stop, or its pid file names a process that is not its own
	Failed   Reported = "failed"   // start or the restart policy gave up on it
	// Unhealthy: it runs, but its liveness probe fails, and its restart
	// policy (never) leaves it be.
	Unhealthy Reported = "unhealthy"
	// Unmanaged: it runs, started by another tool, not by daemonctl.
	Unmanaged Reported = "unmanaged"
	Unknown   Reported = "unknown" // its state cannot be read
)

// Observation is what daemonctl can see of a service right now: its
// record, its pid file, and which of the processes they name still run.
type Observation struct {
	Record          *Record // nil: never started by daemonctl, or unreadable
	RecordErr       error   // the record cannot be read
	LeaderAlive     bool
	SupervisorAlive bool
	PidFilePID      int   // 0: no pid file
	PidErr          error // the pid file cannot be read
	// StopInterrupted: the record says stopping, but no stop holds the
	// service's lock: the stop died half-way.
	StopInterrupted bool
	// Orphans counts processes of an instance whose launch was
	// interrupted before its leader was recorded.
	Orphans int
	// Recovered counts the instances found in /proc (Store.Recover)
	// because the record was gone; Record is the first one's.
	Recovered int
	// Foreign is a live server that plausibly is this service but that
	// daemonctl did not start (dolphinscheduler-daemon.sh did), when no
	// instance of daemonctl's runs.
	Foreign *Foreign
}

// Foreign is a process another tool started that runs the service's
// command: the root of its tree, and its command line.
type Foreign struct {
	proc.Identity
	Service string
	Command string
}

// Observe looks at service name, whose pid file is pidFile.
func (s Store) Observe(name, pidFile string) Observation {
	o := s.readRecords(name, pidFile)
	if r := o.Record; r != nil {
		o.LeaderAlive = r.Leader.Alive()
		if !o.LeaderAlive && r.Phase != PhaseStopping && r.Phase != PhaseStopped {
			// A stop records itself before it signals, and the leader
			// may have died of a stop recorded after the record was
			// read: read it again, after the death was seen, before
			// calling the death unasked for.
			if again := s.readRecords(name, pidFile); again.Record != nil && (again.Record.Phase != r.Phase || again.Record.Leader != r.Leader) {
				o, r = again, again.Record
				o.LeaderAlive = r.Leader.Alive()
			}
		}
		o.SupervisorAlive = s.supervisorAlive(r)
		if r.Phase == PhaseStopping {
			o.StopInterrupted = !s.Locked(name)
		}
		if r.Token != "" && r.Leader.PID == 0 && !o.SupervisorAlive {
			members, _ := r.Tree().Members()
			o.Orphans = len(members)
		}
	}
	return o
}

// readRecords reads the record, then the pid file. A launch writes them
// in that order too, so a pid file that does not name the record's leader
// may have been written after the record was read, with a record naming
// it already in place: both are read again (twice at most) before the
// mismatch is believed, or status would call a service that is just
// starting dead.
func (s Store) readRecords(name, pidFile string) Observation {
	var o Observation
	for range 3 {
		o = Observation{}
		o.Record, o.RecordErr = s.Read(name)
		pid, err := pidfile.ReadPID(pidFile)
		switch {
		case err == nil:
			o.PidFilePID = pid
		case !errors.Is(err, fs.ErrNotExist):
			o.PidErr = err
		}
		if o.PidFilePID == 0 || (o.Record != nil && o.Record.Leader.PID == o.PidFilePID) {
			break
		}
	}
	return o
}

// Running reports whether the recorded instance is alive and not stopped.
func (o Observation) Running() bool {
	r := o.Record
	return r != nil && o.LeaderAlive && r.Phase != PhaseStopped && r.Phase != PhaseFailed
}

// Ready reports whether the recorded instance runs and passed its
// readiness check.
func (o Observation) Ready() bool { return o.Running() && o.Record.Phase == PhaseRunning }

// Launching reports whether a monitor is starting the service and has not
// recorded its process yet.
func (o Observation) Launching() bool {
	r := o.Record
	return r != nil && !o.LeaderAlive && o.SupervisorAlive && r.Phase == PhaseStarting && r.NextRestart == nil
}

// Restarting reports whether a monitor waits to start the service again.
func (o Observation) Restarting() bool {
	r := o.Record
	return r != nil && !o.LeaderAlive && o.SupervisorAlive && r.NextRestart != nil && !r.StopRequested() && r.Phase != PhaseFailed
}

// Classify turns an observation into the state status reports, with a
// detail saying why where the state alone does not. This is the one place
// that decides what a service's state is.
func (o Observation) Classify() (Reported, string) {
	state, detail := o.classify()
	if r := o.Record; r != nil && r.RunDirFull != nil {
		full := fmt.Sprintf("run_dir is full since %s: its record is rewritten in place, crash records are not kept", r.RunDirFull.Format(time.RFC3339))
		if detail == "" {
			return state, full
		}
		detail += "; " + full
	}
	return state, detail
}

func (o Observation) classify() (Reported, string) {
	r := o.Record
	switch {
	case o.RecordErr != nil:
		return Unknown, o.RecordErr.Error()
	case o.Running():
		switch {
		case r.Phase == PhaseStarting:
			return Starting, ""
		case r.Phase == PhaseStopping && o.StopInterrupted:
			return Running, "a stop began but was interrupted; stop (or start) finishes it"
		case r.Phase == PhaseStopping:
			return Stopping, ""
		case o.Recovered > 1:
			return Running, fmt.Sprintf("its record in run_dir was lost; %d instances of it were found running, which stop ends", o.Recovered)
		case o.Recovered == 1:
			return Running, "its record in run_dir was lost; found again by its environment, and start or stop takes it back"
		case r.Unhealthy != "":
			return Unhealthy, r.Unhealthy
		case r.Adopted && r.LogError == "":
			return Running, "adopted from another tool: its output goes where that tool sent it, not through daemonctl"
		}
		return Running, r.LogError
	case o.Foreign != nil:
		return Unmanaged, fmt.Sprintf("started by another tool, not by daemonctl (pid %d: %s); `daemonctl adopt %s --pid %d` takes it over",
			o.Foreign.PID, o.Foreign.Command, o.Foreign.Service, o.Foreign.PID)
	case r != nil && r.Phase == PhaseStopping && o.StopInterrupted:
		return Stopped, "its stop was interrupted after it ended; the next stop or start tidies up"
	case r != nil && r.Phase == PhaseStopping:
		// Its leader is gone but the stop is still waiting for the rest of
		// its tree, or about to record that it stopped.
		return Stopping, ""
	case o.Orphans > 0:
		return Dead, fmt.Sprintf("its launch was interrupted; %d process(es) of it still run, which stop or start ends", o.Orphans)
	case o.Launching():
		return Starting, ""
	case o.Restarting():
		return Dead, fmt.Sprintf("%s; restarting in %s (restart %d)", exitNote(r), time.Until(*r.NextRestart).Round(100*time.Millisecond), r.Restarts)
	case r != nil && r.Phase == PhaseFailed:
		return Failed, failedDetail(r)
	case r != nil && r.Phase != PhaseStopped:
		detail := fmt.Sprintf("pid %d ended without a stop", r.Leader.PID)
		if r.LastExit != nil {
			detail += " (" + r.LastExit.String() + ")"
		}
		return Dead, detail
	case o.PidErr != nil:
		return Unknown, o.PidErr.Error()
	case o.PidFilePID != 0:
		return Dead, fmt.Sprintf("pid file names pid %d, which is not a process daemonctl started for this service", o.PidFilePID)
	}
	return Stopped, ""
}

func failedDetail(r *Record) string {
	if r.GaveUpBecause != "" && r.Restarts > 0 {
		return fmt.Sprintf("gave up after %d restarts: %s", r.Restarts, r.GaveUpBecause)
	}
	if r.GaveUpBecause != "" {
		return "start gave up: " + r.GaveUpBecause
	}
	if r.Restarts > 0 {
		return fmt.Sprintf("gave up after %d restarts: %s", r.Restarts, exitNote(r))
	}
	return "start gave up: " + exitNote(r)
}

func exitNote(r *Record) string {
	if r.LastExit != nil {
		return r.LastExit.String()
	}
	return "not ready"
}

// Status is one service's state, as `status` prints it.
type Status struct {
	Name          string           `json:"name"`
	State         Reported         `json:"state"`
	PID           *int             `json:"pid"`
	StartedAt     *time.Time       `json:"started_at"`
	UptimeSeconds *float64         `json:"uptime_seconds"`
	Ready         bool             `json:"ready"`
	Restarts      int              `json:"restarts"`
	LastExit      *proc.ExitStatus `json:"last_exit"`
	LastCrash     *Crash           `json:"last_crash,omitempty"`
	// SupervisorPID is the supervisor watching the service, while it does.
	SupervisorPID *int   `json:"supervisor_pid"`
	PidFile       string `json:"pid_file"`
	LogFile       string `json:"log_file"`
	// InConfig is false for a service run_dir holds that the config no
	// longer names: it is still shown, and stopped by a plain stop.
	InConfig bool `json:"in_config"`
	// ConfigChanged: the config now says otherwise than what the running
	// instance was launched with (package drift).
	ConfigChanged bool `json:"config_changed"`
	// Detail says why a service is dead, failed or unknown.
	Detail string `json:"detail,omitempty"`
}

// Status is the observation as `status` shows service name, whose files
// are pidFile and logFile.
func (o Observation) Status(name, pidFile, logFile string) Status {
	state, detail := o.Classify()
	st := Status{Name: name, State: state, PidFile: pidFile, LogFile: logFile, Detail: detail}
	if r := o.Record; r != nil {
		st.Restarts, st.LastExit, st.LastCrash = r.Restarts, r.LastExit, r.LastCrash
		if o.SupervisorAlive && (o.Running() || o.Launching() || o.Restarting()) {
			pid := r.Supervisor.PID
			st.SupervisorPID = &pid
		}
		if o.Running() {
			pid := r.Leader.PID
			started := r.StartedAt
			up := time.Since(started).Seconds()
			st.PID, st.StartedAt, st.UptimeSeconds = &pid, &started, &up
			st.Ready = r.Phase == PhaseRunning
		}
	}
	if f := o.Foreign; f != nil && !o.Running() {
		pid, started := f.PID, f.StartTime()
		up := time.Since(started).Seconds()
		st.PID, st.StartedAt, st.UptimeSeconds = &pid, &started, &up
	}
	if st.PID == nil && state == Dead && o.PidFilePID != 0 {
		pid := o.PidFilePID
		st.PID = &pid
	}
	return st
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
		case Dead, Failed, Unhealthy:
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

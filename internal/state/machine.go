package state

import (
	"fmt"
	"time"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// Phase is where a record stands: what the last command or the monitor
// did to the service.
type Phase string

// The phases of a record. The empty phase is a service never started.
const (
	PhaseStarting Phase = "starting" // launched, readiness not yet seen
	PhaseRunning  Phase = "running"  // launched and ready
	PhaseStopping Phase = "stopping" // stop requested, tree being signalled
	PhaseStopped  Phase = "stopped"  // stopped by a stop command
	PhaseFailed   Phase = "failed"   // start or the restart policy gave up
)

// Event is something that happens to a service. Each has one method on
// Record that writes it, and one writer: a start or stop command, or the
// service's monitor.
type Event string

// The events of a service's life.
const (
	StartRequested   Event = "start requested"   // start: a supervisor will launch it
	Launching        Event = "launching"         // monitor: the next instance's token is reserved
	Launched         Event = "launched"          // monitor: an instance runs
	TookOver         Event = "took over"         // start or a new supervisor: a monitor replaces a dead one
	AdoptedEvent     Event = "adopted"           // adopt: a server another tool started is taken over
	BecameReady      Event = "became ready"      // monitor: readiness seen
	Exited           Event = "exited"            // monitor: the instance's leader exited
	RestartScheduled Event = "restart scheduled" // monitor: the restart policy will launch it again
	GaveUp           Event = "gave up"           // monitor: start or the restart policy gave up
	StopRequested    Event = "stop requested"    // stop: its tree is about to be signalled
	StopDone         Event = "stopped"           // stop: its tree is gone
)

// machine is the state machine: machine[phase][event] is the phase the
// event leads to. An event missing from a phase's row is refused.
var machine = map[Phase]map[Event]Phase{
	"": {StartRequested: PhaseStarting, StopRequested: PhaseStopping, AdoptedEvent: PhaseRunning},
	PhaseStarting: {
		StartRequested: PhaseStarting, Launching: PhaseStarting, Launched: PhaseStarting, TookOver: PhaseStarting,
		BecameReady: PhaseRunning, Exited: PhaseStarting, RestartScheduled: PhaseStarting,
		GaveUp: PhaseFailed, StopRequested: PhaseStopping,
	},
	PhaseRunning: {
		StartRequested: PhaseStarting, Launching: PhaseRunning, Launched: PhaseStarting, TookOver: PhaseRunning,
		Exited: PhaseRunning, RestartScheduled: PhaseRunning, GaveUp: PhaseFailed, StopRequested: PhaseStopping,
	},
	PhaseStopping: {StartRequested: PhaseStarting, Exited: PhaseStopping, StopRequested: PhaseStopping, StopDone: PhaseStopped},
	PhaseStopped:  {StartRequested: PhaseStarting, Exited: PhaseStopped, StopRequested: PhaseStopping, AdoptedEvent: PhaseRunning},
	PhaseFailed:   {StartRequested: PhaseStarting, StopRequested: PhaseStopping, AdoptedEvent: PhaseRunning},
}

// apply moves the record along event, or refuses an event its phase does
// not have.
func (r *Record) apply(ev Event) error {
	to, ok := machine[r.Phase][ev]
	if !ok {
		from := r.Phase
		if from == "" {
			from = "never started"
		}
		return fmt.Errorf("%s: invalid state transition: %s while %s", r.Service, ev, from)
	}
	r.Phase = to
	return nil
}

// Start is what a start command records before its supervisor launches
// anything.
type Start struct {
	Service    string
	Supervisor proc.Identity
	// Claim names the request whose monitor may write the record.
	Claim            string
	PidFile, LogFile string
	// LogOffset is the log's size now, where this start's output begins.
	LogOffset int64
}

// RequestStart returns the record a start command writes (StartRequested),
// carrying over what prev, the record before it if any, knew of past exits.
func RequestStart(prev *Record, s Start) (*Record, error) {
	r := &Record{Service: s.Service, Supervisor: &s.Supervisor, Claim: s.Claim, PidFile: s.PidFile, LogFile: s.LogFile,
		StartedAt: now(), LogOffset: s.LogOffset}
	if prev != nil {
		r.Phase, r.LastExit, r.LastCrash = prev.Phase, prev.LastExit, prev.LastCrash
	}
	return r, r.apply(StartRequested)
}

// Reserve records the token of the instance a monitor is about to launch
// (Launching), so that if the monitor dies before Launched, what it
// launched is still found by its token.
func (r *Record) Reserve(token, bootID string) error {
	r.Token, r.Leader = token, proc.Identity{BootID: bootID}
	return r.apply(Launching)
}

// Instance is what a launch records of the new instance.
type Instance struct {
	Leader    proc.Identity
	Token     string
	LogOffset int64 // the log's size at the launch
	PidFile   string
	LogFile   string
	// Fingerprint identifies the config it was launched from (package
	// drift).
	Fingerprint string
	// StopSignal and StopTimeout are how it is stopped, kept for when
	// its config no longer names it.
	StopSignal  int
	StopTimeout time.Duration
	// Born is the pid count just before the leader was made; zero when
	// unknown.
	Born proc.PIDCount
}

// Launch records a launched instance (Launched).
func (r *Record) Launch(in Instance) error {
	r.Leader, r.LeaderBorn, r.Token, r.StartedAt, r.LogOffset = in.Leader, in.Born, in.Token, now(), in.LogOffset
	r.PidFile, r.LogFile, r.ReadyAt, r.NextRestart, r.GaveUpBecause = in.PidFile, in.LogFile, nil, nil, ""
	r.Fingerprint, r.StopSignal, r.StopTimeout = in.Fingerprint, in.StopSignal, in.StopTimeout
	r.Unhealthy = ""
	return r.apply(Launched)
}

// Adopt returns the record of a server another tool started, taken over
// as it runs (Adopted): it has no token, so its tree is its leader and
// the leader's descendants, and its output is not daemonctl's to capture.
// prev, the record before it if any, passes on what it knew of past exits.
func Adopt(prev *Record, service string, in Instance) (*Record, error) {
	r := &Record{Service: service, Adopted: true}
	if prev != nil {
		r.Phase, r.LastExit, r.LastCrash, r.Restarts = prev.Phase, prev.LastExit, prev.LastCrash, prev.Restarts
	}
	r.Leader, r.StartedAt, r.LogOffset = in.Leader, in.Leader.StartTime(), in.LogOffset
	r.PidFile, r.LogFile = in.PidFile, in.LogFile
	r.Fingerprint, r.StopSignal, r.StopTimeout = in.Fingerprint, in.StopSignal, in.StopTimeout
	now := now()
	r.ReadyAt = &now
	return r, r.apply(AdoptedEvent)
}

// TakeOver records a new supervisor and claim for a running instance
// whose supervisor died (TookOver).
func (r *Record) TakeOver(supervisor proc.Identity, claim string) error {
	r.Supervisor, r.Claim = &supervisor, claim
	return r.apply(TookOver)
}

// MarkReady records that the instance passed its readiness check
// (BecameReady).
func (r *Record) MarkReady() error {
	t := now()
	r.ReadyAt = &t
	return r.apply(BecameReady)
}

// Exit records how the instance's leader exited (Exited), with a crash
// record when nobody asked for the exit.
func (r *Record) Exit(exit proc.ExitStatus, crash *Crash) error {
	r.LastExit = &exit
	if crash != nil {
		r.LastCrash, r.crashChanged = crash, true
	}
	return r.apply(Exited)
}

// ScheduleRestart records that the restart policy launches the service
// again after delay (RestartScheduled).
func (r *Record) ScheduleRestart(delay time.Duration) error {
	next := now().Add(delay)
	r.NextRestart = &next
	r.Restarts++
	return r.apply(RestartScheduled)
}

// GiveUp records that the start, or the restart policy, gave up on the
// service (GaveUp), and why when its last exit does not say: a launch
// that failed, a readiness check that timed out.
func (r *Record) GiveUp(reason string) error {
	r.GaveUpBecause = reason
	return r.apply(GaveUp)
}

// RequestStop records that a stop is about to signal the tree
// (StopRequested). It is written before any signal, so that whoever
// watches the service knows its exit was asked for.
func (r *Record) RequestStop() error { return r.apply(StopRequested) }

// MarkStopped records that the stop is done (StopDone).
func (r *Record) MarkStopped() error {
	t := now()
	r.StoppedAt = &t
	return r.apply(StopDone)
}

func now() time.Time { return time.Now().UTC() }

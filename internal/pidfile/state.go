package pidfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// Phase is what the last command did to a service.
type Phase string

// The phases a state record can be in.
const (
	PhaseStarting Phase = "starting" // launched, readiness not yet seen
	PhaseRunning  Phase = "running"  // launched and ready
	PhaseStopping Phase = "stopping" // stop requested, tree being signalled
	PhaseStopped  Phase = "stopped"  // stopped by a stop command
	PhaseFailed   Phase = "failed"   // start gave up: died or never ready
)

// State is daemonctl's record of one service instance: which process it
// is, how it was started and what happened to it last.
type State struct {
	Service   string        `json:"service"`
	Phase     Phase         `json:"phase"`
	Leader    proc.Identity `json:"leader"`
	Token     string        `json:"token"`
	PidFile   string        `json:"pid_file"`
	LogFile   string        `json:"log_file"`
	StartedAt time.Time     `json:"started_at"`
	ReadyAt   *time.Time    `json:"ready_at,omitempty"`
	StoppedAt *time.Time    `json:"stopped_at,omitempty"`
	// LogOffset is the size of the log when this instance started; log
	// probes and crash reports read from there.
	LogOffset int64            `json:"log_offset"`
	Restarts  int              `json:"restarts"`
	LastExit  *proc.ExitStatus `json:"last_exit"`

	// Monitor is the daemonctl process supervising the service, if any.
	Monitor *proc.Identity `json:"monitor,omitempty"`
	// Claim names the request whose monitor may write this record; a
	// monitor a later request superseded finds another claim and leaves.
	Claim string `json:"claim,omitempty"`
	// QuickDeaths counts exits in a row that came soon after a start.
	QuickDeaths int `json:"quick_deaths,omitempty"`
	// NextRestart is when the monitor will start the service again.
	NextRestart *time.Time `json:"next_restart,omitempty"`
	// LastCrash describes the last exit nobody asked for.
	LastCrash *Crash `json:"last_crash,omitempty"`
	// LogError says why the service's output cannot be written, while
	// it cannot.
	LogError string `json:"log_error,omitempty"`
}

// Crash is what daemonctl keeps of an unexpected exit.
type Crash struct {
	At   time.Time       `json:"at"`
	Exit proc.ExitStatus `json:"exit"`
	// LogTail is the end of the service's log when it exited.
	LogTail []string `json:"log_tail"`
	// Artifacts are files the server left about its death: JVM fatal
	// error logs (hs_err_pid*.log) and heap dumps (*.hprof).
	Artifacts []string `json:"artifacts,omitempty"`
}

// transitions lists the phase changes the lifecycle makes; SetPhase
// refuses anything else.
var transitions = map[Phase][]Phase{
	"":            {PhaseStarting, PhaseStopped},
	PhaseStarting: {PhaseRunning, PhaseFailed, PhaseStopping, PhaseStarting, PhaseStopped},
	PhaseRunning:  {PhaseStopping, PhaseStarting, PhaseFailed, PhaseStopped},
	PhaseStopping: {PhaseStopped, PhaseStopping, PhaseStarting},
	PhaseStopped:  {PhaseStarting, PhaseStopped},
	PhaseFailed:   {PhaseStarting, PhaseStopping, PhaseStopped},
}

// SetPhase moves the record to phase to, refusing a transition the
// lifecycle does not have.
func (s *State) SetPhase(to Phase) error {
	for _, ok := range transitions[s.Phase] {
		if ok == to {
			s.Phase = to
			return nil
		}
	}
	return fmt.Errorf("invalid state transition %q to %q", s.Phase, to)
}

// StopRequested reports whether a stop command has claimed the service.
func (s *State) StopRequested() bool {
	return s.Phase == PhaseStopping || s.Phase == PhaseStopped
}

// Tree returns the process tree of the instance.
func (s *State) Tree() proc.Tree { return proc.Tree{Leader: s.Leader, Token: s.Token} }

// ReadState reads the state record at path. A missing or empty record
// returns (nil, nil); one that cannot be parsed returns ErrCorrupt.
func ReadState(path string) (*State, error) {
	b, err := ReadNoFollow(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w: %v", path, ErrCorrupt, err)
	}
	return &s, nil
}

// WriteState records s at path atomically.
func WriteState(path string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return WriteAtomic(path, append(b, '\n'), 0o644)
}

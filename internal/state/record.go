// Package state owns a service's state: the record daemonctl keeps of each
// instance (this file) and how it is written and read quickly
// (recordjson.go), the events that move a record from phase to phase
// and the one method that writes each (machine.go), where records live and
// how they are changed under the service's lock (store.go), and how a
// record plus what /proc shows becomes the state `status` reports
// (classify.go).
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/daemonctl/daemonctl/internal/pidfile"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// Record is daemonctl's record of one service instance: which process it
// is, how it was started and what happened to it last.
type Record struct {
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

	// Supervisor is the daemonctl process supervising the service, if any.
	Supervisor *proc.Identity `json:"supervisor,omitempty"`
	// Claim names the request whose monitor may write this record; a
	// monitor a later request superseded finds another claim and leaves.
	Claim string `json:"claim,omitempty"`
	// QuickDeaths counts exits in a row that came soon after a start.
	QuickDeaths int `json:"quick_deaths,omitempty"`
	// NextRestart is when the monitor will start the service again.
	NextRestart *time.Time `json:"next_restart,omitempty"`
	// LastCrash describes the last exit nobody asked for. It holds lines
	// of the service's log, so it is kept apart, in a file only its owner
	// reads (Store.Write); records written before that carry it inline.
	LastCrash *Crash `json:"last_crash,omitempty"`
	// crashChanged: LastCrash is new, and its file is to be written.
	crashChanged bool
	// LogError says why the service's output cannot be written, while
	// it cannot.
	LogError string `json:"log_error,omitempty"`
	// GaveUpBecause says why the start or the restart policy gave up.
	GaveUpBecause string `json:"gave_up_because,omitempty"`
	// Adopted marks a server another tool started that was taken over
	// (Adopt): its tree is its leader's descendants, its output is not
	// captured.
	Adopted bool `json:"adopted,omitempty"`
	// LeaderBorn is the pid count just before the leader was made
	// (proc.PIDCount): a stop reads the processes made after it alone.
	// Zero when unknown (an adopted server, a record of an older
	// daemonctl).
	LeaderBorn proc.PIDCount `json:"leader_born,omitzero"`
	// Unhealthy says why the liveness probe fails, while it does, for a
	// service its restart policy does not restart.
	Unhealthy string `json:"unhealthy,omitempty"`
	// Fingerprint identifies the config the instance was launched from
	// (package drift): status compares it with the config now.
	Fingerprint string `json:"fingerprint,omitempty"`
	// StopSignal and StopTimeout are how the instance is stopped once its
	// config no longer names it (0: TERM, and the default timeout).
	StopSignal  int           `json:"stop_signal,omitempty"`
	StopTimeout time.Duration `json:"stop_timeout,omitempty"`
	// RunDirFull is when writes to run_dir began to fail for want of
	// space, while they do: records are then rewritten in place
	// (Store.Write) and crash records are not kept.
	RunDirFull *time.Time `json:"run_dir_full,omitempty"`
}

// Crash is what daemonctl keeps of an unexpected exit.
type Crash struct {
	At   time.Time       `json:"at"`
	Exit proc.ExitStatus `json:"exit"`
	// Reason says why daemonctl ended it, if it did: its liveness probe
	// failed.
	Reason string `json:"reason,omitempty"`
	// LogTail is the end of the service's log when it exited.
	LogTail []string `json:"log_tail"`
	// Artifacts are files the server left about its death: JVM fatal
	// error logs (hs_err_pid*.log) and heap dumps (*.hprof).
	Artifacts []string `json:"artifacts,omitempty"`
}

// StopRequested reports whether a stop command has claimed the service.
func (r *Record) StopRequested() bool {
	return r.Phase == PhaseStopping || r.Phase == PhaseStopped
}

// Tree returns the process tree of the instance.
func (r *Record) Tree() proc.Tree {
	return proc.Tree{Leader: r.Leader, Token: r.Token, Descendants: r.Adopted, Born: r.LeaderBorn}
}

// SupervisorAlive reports whether the supervisor recorded for the
// instance still runs.
func (r *Record) SupervisorAlive() bool { return r.Supervisor != nil && r.Supervisor.Alive() }

// ReadRecord reads the record at path. A missing or empty record returns
// (nil, nil); one that cannot be parsed returns pidfile.ErrCorrupt. A
// record another user wrote is refused: it could name any process, and
// stop would signal it.
func ReadRecord(path string) (*Record, error) {
	r, err := readRecord(path)
	// A record rewritten in place (the file system was full) can be read
	// half rewritten: what does not parse is read again.
	for i := 0; i < 3 && errors.Is(err, pidfile.ErrCorrupt); i++ {
		time.Sleep(time.Millisecond)
		r, err = readRecord(path)
	}
	return r, err
}

func readRecord(path string) (*Record, error) {
	b, err := pidfile.ReadTrusted(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	if r, ok := parseRecord(b); ok {
		return r, nil
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("state file %s: %w: %v", path, pidfile.ErrCorrupt, err)
	}
	return &r, nil
}

// WriteRecord writes r at path atomically.
func WriteRecord(path string, r *Record) error {
	b, err := marshalRecord(r)
	if err != nil {
		return err
	}
	return pidfile.WriteAtomic(path, b, 0o644)
}

func marshalRecord(r *Record) ([]byte, error) {
	if b, ok := appendRecord(make([]byte, 0, 512), r); ok {
		return append(b, '\n'), nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	return append(b, '\n'), err
}

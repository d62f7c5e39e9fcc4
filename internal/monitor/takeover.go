package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// takeOver takes over a service whose supervisor died: it reattaches to
// the service's output pipe and watches its leader through a pidfd. The
// monitor is not the service's parent, so the exit status of an instance
// taken over is unknown, and counts as a failure for the restart policy.
func (m *monitor) takeOver(ctx context.Context) (*run, error) {
	st, err := m.store.Read(m.Service.Name)
	if err != nil || st == nil {
		return nil, fmt.Errorf("take over: no record of %s", m.Service.Name)
	}
	if !st.Leader.Alive() {
		return nil, fmt.Errorf("take over: pid %d is not running", st.Leader.PID)
	}
	exited := make(chan proc.ExitStatus, 1)
	go func() {
		<-proc.WatchExit(context.WithoutCancel(ctx), st.Leader)
		exited <- proc.ExitStatus{Code: -1, Signal: ""}
	}()
	r := &run{leader: st.Leader, token: st.Token, adopted: st.Adopted, born: st.LeaderBorn, began: st.StartedAt, offset: st.LogOffset, exited: exited, readyCh: make(chan error, 1)}
	if pipe := takeOverOutput(st.Leader.PID); pipe != nil {
		// The note goes first, so that every line after it came through
		// this monitor. What the dead one had read and not yet written is
		// gone, and it may have read part of a line: the rest of that line
		// is then the first thing below the note.
		m.out.notef("new monitor took over %s (pid %d) and its output; what the last one had read but not written is lost, so the next line may be the end of a cut line", m.Service.Name, st.Leader.PID)
		r.pipe, r.output = pipe, pump(pipe, m.out)
	} else {
		drained := make(chan struct{})
		close(drained)
		r.output = drained
		m.out.notef("new monitor took over %s (pid %d); its output does not go through a pipe and is not captured", m.Service.Name, st.Leader.PID)
	}
	if st.Phase == state.PhaseRunning {
		r.readyCh <- nil
	} else {
		// An exec probe runs with the service's environment, as on launch.
		if r.env, err = m.env(); err != nil {
			return nil, err
		}
		go m.awaitReady(ctx, r, st.LogOffset)
	}
	if time.Since(st.StartedAt) > StableUptime {
		r.began = time.Now().Add(-StableUptime)
	}
	return r, nil
}

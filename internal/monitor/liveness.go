package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/probe"
	"github.com/daemonctl/daemonctl/internal/state"
)

// watchLiveness runs the service's liveness probe every interval once it
// is ready, until ctx ends. After failure_threshold failures in a row it
// sends why on the returned channel, once, if the restart policy restarts
// the service (the monitor then ends it, and the policy restarts it); a
// service that is not restarted (restart: never) is marked unhealthy in
// its record instead, until the probe passes again. A nil channel means
// there is no liveness probe.
func (m *monitor) watchLiveness(ctx context.Context, r *run) <-chan string {
	l := m.Service.Liveness
	if l == nil {
		return nil
	}
	hung := make(chan string, 1)
	p := probe.For(l.Check, probe.Target{Dir: m.Service.Dir, Env: r.env, LogFile: m.Service.LogFile, LogOffset: r.offset, Reaper: m.Reaper})
	go func() {
		tick := time.NewTicker(l.Interval.Std())
		defer tick.Stop()
		failures := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			check, cancel := context.WithTimeout(ctx, l.Timeout.Std())
			err := p.Check(check)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				if failures >= l.FailureThreshold {
					m.out.notef("%s: liveness %s passes again", m.Service.Name, p)
					m.markUnhealthy(ctx, r, "")
				}
				failures = 0
				continue
			}
			failures++
			if failures < l.FailureThreshold {
				continue
			}
			why := fmt.Sprintf("liveness %s failed %d times in a row (last: %v)", p, failures, err)
			if m.Service.Restart != config.RestartNever {
				hung <- why
				return
			}
			if failures == l.FailureThreshold {
				m.out.notef("%s: %s; restart policy never: marked unhealthy", m.Service.Name, why)
			}
			m.markUnhealthy(ctx, r, why+" since "+time.Now().UTC().Format(time.RFC3339))
		}
	}()
	return hung
}

// markUnhealthy records why the instance r is unhealthy ("" once it is
// healthy again).
func (m *monitor) markUnhealthy(ctx context.Context, r *run, why string) {
	m.update(ctx, func(rec *state.Record) bool { return rec.Token == r.token && rec.Phase == state.PhaseRunning },
		func(rec *state.Record) error {
			if why == "" || rec.Unhealthy == "" {
				rec.Unhealthy = why
			}
			return nil
		})
}

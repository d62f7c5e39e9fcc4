// Package backoff owns waiting with growing pauses: how long to wait
// before the next try of something that is not there yet (a server's
// readiness, a lock, a socket, a restart), and the loop that tries until
// it is. Fast things are seen within milliseconds; slow ones are not
// hammered.
package backoff

import (
	"context"
	"time"
)

// Policy says how the pauses between tries grow: Initial for the first
// Steady pauses, then doubling each time, up to Max.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	// Steady is how many pauses stay at Initial before doubling starts.
	Steady int
}

// Delay returns pause number n (1 for the first).
func (p Policy) Delay(n int) time.Duration {
	d := p.Initial
	for i := max(p.Steady, 1); i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Until calls try until it reports done or fails, pausing between calls as
// p says. When ctx ends first it returns ctx's error.
func Until(ctx context.Context, p Policy, try func() (done bool, err error)) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for n := 1; ; n++ {
		done, err := try()
		if done || err != nil {
			return err
		}
		timer.Reset(p.Delay(n))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

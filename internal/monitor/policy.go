package monitor

import (
	"time"

	"github.com/daemonctl/daemonctl/internal/backoff"
)

// Restart backoff: the first delay is the service's restart_delay, each
// quick death in a row doubles it up to MaxBackoff, and a run that lasts
// StableUptime counts as healthy and starts the count again.
const (
	MaxBackoff   = 60 * time.Second
	StableUptime = 10 * time.Second
)

// RestartDelay returns the delay before restart number quick (1 for the
// first quick death in a row).
func RestartDelay(first time.Duration, quick int) time.Duration {
	return backoff.Policy{Initial: first, Max: MaxBackoff}.Delay(quick)
}

// ShouldRestart applies a restart policy to an exit. An exit whose status
// is unknown (a service taken over after its supervisor died) counts as a
// failure.
func ShouldRestart(policy string, code int, known bool) bool {
	switch policy {
	case "always":
		return true
	case "on-failure":
		return !known || code != 0
	}
	return false
}

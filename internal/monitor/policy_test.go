package monitor

import (
	"testing"
	"time"
)

func TestRestartDelay(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := RestartDelay(time.Second, i+1); got != w {
			t.Errorf("RestartDelay(1s, %d) = %s, want %s", i+1, got, w)
		}
	}
	if got := RestartDelay(90*time.Second, 1); got != MaxBackoff {
		t.Errorf("a first delay over the cap: %s", got)
	}
}

func TestShouldRestart(t *testing.T) {
	tests := []struct {
		policy string
		code   int
		known  bool
		want   bool
	}{
		{"never", 1, true, false},
		{"always", 0, true, true},
		{"on-failure", 0, true, false},
		{"on-failure", 137, true, true},
		{"on-failure", 0, false, true},
	}
	for _, tt := range tests {
		if got := ShouldRestart(tt.policy, tt.code, tt.known); got != tt.want {
			t.Errorf("ShouldRestart(%q, %d, %v) = %v", tt.policy, tt.code, tt.known, got)
		}
	}
}

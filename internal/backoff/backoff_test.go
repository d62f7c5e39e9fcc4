package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Initial: time.Millisecond, Max: 20 * time.Millisecond, Steady: 2}
	want := []time.Duration{1, 1, 2, 4, 8, 16, 20, 20}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	restart := Policy{Initial: time.Second, Max: time.Minute}
	if got := restart.Delay(1); got != time.Second {
		t.Errorf("first restart delay %v", got)
	}
	if got := restart.Delay(100); got != time.Minute {
		t.Errorf("restart delay after 100 quick deaths %v, want the cap", got)
	}
}

func TestUntil(t *testing.T) {
	p := Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond}
	tries := 0
	err := Until(context.Background(), p, func() (bool, error) { tries++; return tries == 5, nil })
	if err != nil || tries != 5 {
		t.Fatalf("Until: %v after %d tries, want nil after 5", err, tries)
	}
	boom := errors.New("boom")
	if err := Until(context.Background(), p, func() (bool, error) { return false, boom }); err != boom {
		t.Fatalf("Until returned %v, want the try's error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := Until(ctx, p, func() (bool, error) { return false, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Until past its context: %v", err)
	}
}

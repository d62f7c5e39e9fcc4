package cli

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func listening(f *Factory) bool {
	f.interrupt.mu.Lock()
	defer f.interrupt.mu.Unlock()
	return f.interrupt.stop != nil
}

// A command that acts on services listens once it has run for
// listenAfter; then SIGINT cancels its context instead of ending the
// process.
func TestInterruptibleSoonListensAfterAWhile(t *testing.T) {
	f := &Factory{}
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	ctx := f.InterruptibleSoon(cmd)
	defer f.release()
	if listening(f) {
		t.Fatal("listening at once")
	}
	for deadline := time.Now().Add(10 * time.Second); !listening(f); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not listening after %s", time.Since(deadline.Add(-10*time.Second)))
		}
	}
	unix.Kill(os.Getpid(), unix.SIGINT)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not cancel the command's context")
	}
}

// A command done before listenAfter never listens.
func TestInterruptibleSoonDoneSoonNeverListens(t *testing.T) {
	f := &Factory{}
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	f.InterruptibleSoon(cmd)
	f.release()
	time.Sleep(3 * listenAfter)
	if listening(f) {
		t.Fatal("a released command began to listen")
	}
}

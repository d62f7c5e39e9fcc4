package cli

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// listenAfter is how long a command that is usually done within a few
// milliseconds (InterruptibleSoon) runs before it listens for SIGINT and
// SIGTERM.
const listenAfter = 20 * time.Millisecond

// interrupt is a command's context that SIGINT or SIGTERM cancels, and
// the listening for them.
type interrupt struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	later    *time.Timer // the listening still to begin
	stop     func()      // undoes the listening once begun
	released bool
}

// Interruptible returns cmd's context, cancelled by the first SIGINT or
// SIGTERM so that the command can wind down; a second signal, with the
// default disposition back, ends the process whatever it is doing.
//
// It is installed on first use, not for every command: the runtime's
// signal machinery starts a thread and two goroutines, about 1 ms of a
// short command such as status, which has nothing to wind down and is
// ended by the signal's default action.
func (f *Factory) Interruptible(cmd *cobra.Command) context.Context {
	return f.interruptible(cmd, 0)
}

// InterruptibleSoon is Interruptible for the commands that act on
// services, which are usually done within a few milliseconds (a stop of
// a server that exits on TERM: 4 ms of its own): they listen for the
// signals once they have run for listenAfter. Until then a signal takes
// its default action and ends the process at once, as it ends a status:
// what such a command leaves half done is what a crash leaves, which the
// next command finishes (the fault suite holds it to that). Listening
// from the start cost a stop 0.5–0.75 ms (BENCHMARKS.md). A process 1 (a
// container's init) listens at once: there a signal with no handler is
// dropped, not fatal.
func (f *Factory) InterruptibleSoon(cmd *cobra.Command) context.Context {
	return f.interruptible(cmd, listenAfter)
}

func (f *Factory) interruptible(cmd *cobra.Command, after time.Duration) context.Context {
	in := &f.interrupt
	if in.ctx != nil {
		return in.ctx
	}
	in.ctx, in.cancel = context.WithCancel(cmd.Context())
	if after <= 0 || os.Getpid() == 1 {
		in.listen()
	} else {
		in.later = time.AfterFunc(after, in.listen)
	}
	return in.ctx
}

// listen cancels the context on the first SIGINT or SIGTERM, and gives
// the second its default action back.
func (in *interrupt) listen() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.released {
		return
	}
	signalled, stop := signal.NotifyContext(in.ctx, os.Interrupt, unix.SIGTERM)
	go func() {
		<-signalled.Done()
		stop()
		in.cancel()
	}()
	in.stop = stop
}

// release undoes Interruptible, or calls off its listening.
func (f *Factory) release() {
	in := &f.interrupt
	in.mu.Lock()
	defer in.mu.Unlock()
	in.released = true
	if in.later != nil {
		in.later.Stop()
	}
	if in.stop != nil {
		in.stop()
	}
	if in.cancel != nil {
		in.cancel()
	}
}

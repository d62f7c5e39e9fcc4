package main

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/monitor"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// A supervisor killed in the middle of a burst loses what it had read but
// not yet written, and nothing else: every line that was still in the pipe
// reaches the log through the next supervisor, once and in order. What is
// lost is bounded by the monitor's queue, an unfinished line and one read
// (the README states this bound).
func TestSupervisorKillLosesAtMostItsQueue(t *testing.T) {
	const lines = 3_000_000 // about 21 MB: more than the queue holds
	r := newRig(t, "services:\n  burst:\n    command: [sh, -c, 'seq 1 "+strconv.Itoa(lines)+"; echo done; exec sleep 1000']\n    start_grace: 0s\n", nil)
	r.start("burst")
	log := r.cfg.Services["burst"].LogFile
	waitFor(t, func() bool { fi, err := os.Stat(log); return err == nil && fi.Size() > 200<<10 })
	sup := r.stats().PID
	syscall.Kill(sup, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := proc.WaitGone(ctx, sup); err != nil {
		t.Fatalf("supervisor %d survived SIGKILL: %v", sup, err)
	}
	r.start("burst") // a new supervisor takes the service over
	waitFor(t, func() bool { b, _ := logs.Tail(log, 1); return len(b) == 1 && b[0] == "done" })

	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := make([]bool, lines+1)
	last, got, lostBytes := 0, 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue // daemonctl's own notes, "done"
		}
		if seen[n] {
			t.Fatalf("line %d written twice", n)
		}
		if n < last {
			t.Fatalf("line %d after line %d", n, last)
		}
		seen[n], last = true, n
		got++
	}
	for n := 1; n <= lines; n++ {
		if !seen[n] {
			lostBytes += len(strconv.Itoa(n)) + 1
		}
	}
	bound := monitor.QueueLimit + logs.MaxPartial + 64<<10
	t.Logf("%d of %d lines in the log; %d bytes lost, bound %d", got, lines, lostBytes, bound)
	if lostBytes > bound {
		t.Fatalf("lost %d bytes, more than the %d the supervisor can hold", lostBytes, bound)
	}
	r.stop("burst")
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

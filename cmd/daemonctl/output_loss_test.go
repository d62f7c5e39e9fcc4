package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/logs"
	"github.com/daemonctl/daemonctl/internal/monitor"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// A supervisor killed in the middle of a burst loses what it had read but
// not yet written, and nothing else: every line that was still in the pipe
// reaches the log through the next supervisor, once and in order, after
// its note. What is lost is bounded by the monitor's queue, an unfinished
// line and one read (the README states this bound); if the dead monitor's
// last read ended inside a line, the rest of that line, and only that, may
// come right after the note.
func TestSupervisorKillLosesAtMostItsQueue(t *testing.T) {
	const lines = 3_000_000 // about 21 MB: more than the queue holds
	// dd writes in blocks that end inside a line, so the dead monitor's
	// last read usually ends inside one too, as reads under load do.
	r := newRig(t, "services:\n  burst:\n    command: [sh, -c, 'seq 1 "+strconv.Itoa(lines)+" | dd obs=4093 status=none; echo done; exec sleep 1000']\n    start_grace: 0s\n", nil)
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

	got := readBurstLog(t, log, lines)
	bound := monitor.QueueLimit + logs.MaxPartial + 64<<10
	t.Logf("lines 1-%d before the takeover, %d-%d after it (a line cut: %t, its end %q); %d bytes lost, bound %d",
		got.before, got.resumed, lines, got.wasCut, got.cut, got.lostBytes, bound)
	if got.lostBytes > bound {
		t.Fatalf("lost %d bytes, more than the %d the supervisor can hold", got.lostBytes, bound)
	}
	r.stop("burst")
}

// burstLog is what readBurstLog found in the log of `seq 1 N …; echo done`
// whose supervisor was killed and replaced.
type burstLog struct {
	before    int    // lines 1 to before came through the first supervisor
	resumed   int    // lines resumed to N came through the second
	cut       string // the end of line resumed-1, if it was cut
	wasCut    bool   // the first line after the note is cut (cut may be "")
	lostBytes int    // the bytes of lines before+1 to resumed-1
}

// readBurstLog checks the log's shape: lines 1 to k, the new monitor's
// note, perhaps the end of one cut line, then lines j to n and "done",
// with nothing repeated, reordered or missing on either side of the gap.
func readBurstLog(t *testing.T, path string, n int) burstLog {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var before, after []string // service output either side of the note
	tookOver := false
	for _, text := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		switch {
		case strings.HasPrefix(text, "daemonctl: new monitor took over burst"):
			if tookOver {
				t.Fatal("two takeover notes in the log")
			}
			tookOver = true
		case strings.HasPrefix(text, "daemonctl: "):
		case tookOver:
			after = append(after, text)
		default:
			before = append(before, text)
		}
	}
	if !tookOver {
		t.Fatal("no takeover note in the log")
	}
	if len(after) == 0 || after[len(after)-1] != "done" {
		t.Fatal(`the log does not end with "done"`)
	}
	after = after[:len(after)-1]
	got := burstLog{before: len(before), resumed: n + 1}
	checkRun(t, "before the takeover", before, 1)
	if len(after) > 1 && !startsRun(after) {
		// The first line is the end of the line before the second (perhaps
		// only its newline), cut by the dead monitor's last read.
		got.cut, got.wasCut, after = after[0], true, after[1:]
		next := atoi(t, after[0])
		if whole := strconv.Itoa(next - 1); !strings.HasSuffix(whole, got.cut) || len(got.cut) >= len(whole) {
			t.Fatalf("after the note: %q, then line %d: the first is neither a whole line nor the end of line %d", got.cut, next, next-1)
		}
	}
	if len(after) > 0 {
		got.resumed = atoi(t, after[0])
	}
	if got.resumed <= got.before || (got.wasCut && got.resumed-1 <= got.before) {
		t.Fatalf("line %d after the takeover repeats one written before it (lines 1-%d)", got.resumed, got.before)
	}
	checkRun(t, "after the takeover", after, got.resumed)
	if got.resumed+len(after) != n+1 {
		t.Fatalf("after the takeover: lines %d-%d, not up to %d", got.resumed, got.resumed+len(after)-1, n)
	}
	for i := got.before + 1; i < got.resumed; i++ {
		got.lostBytes += len(strconv.Itoa(i)) + 1
	}
	return got
}

// startsRun reports whether lines begin with two consecutive numbers.
func startsRun(lines []string) bool {
	first, err := strconv.Atoi(lines[0])
	return err == nil && lines[1] == strconv.Itoa(first+1)
}

// checkRun fails unless lines are the numbers from, from+1, … in order.
func checkRun(t *testing.T, where string, lines []string, from int) {
	t.Helper()
	for i, text := range lines {
		if text != strconv.Itoa(from+i) {
			t.Fatalf("%s: %q where line %d was due", where, text, from+i)
		}
	}
}

func atoi(t *testing.T, text string) int {
	t.Helper()
	n, err := strconv.Atoi(text)
	if err != nil {
		t.Fatalf("%q is not a line of the service's output", text)
	}
	return n
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

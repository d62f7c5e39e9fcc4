package monitor

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/logs"
)

func TestPumpDoesNotMakeTheWriterWaitForTheDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.out")
	rot := &logs.Rotator{Path: path}
	if err := rot.Open(); err != nil {
		t.Fatal(err)
	}
	s := &sink{log: rot}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock() // the disk stalls: nothing can be written to the log
	done := pump(r, s)
	line := strings.Repeat("x", 99) + "\n"
	written := make(chan struct{})
	go func() {
		// 4 MiB: four times what the pipe holds, well within the queue.
		for range 4 << 20 / len(line) {
			io.WriteString(w, line)
		}
		close(written)
	}()
	select {
	case <-written:
	case <-time.After(10 * time.Second):
		t.Fatal("the service's writes blocked while the log was stalled")
	}
	s.mu.Unlock() // the disk recovers
	w.Close()
	<-done
	rot.Close()
	b, _ := os.ReadFile(path)
	if got, want := strings.Count(string(b), "\n"), 4<<20/len(line); got != want {
		t.Errorf("%d lines in the log, want %d", got, want)
	}
}

package foreground

import (
	"io"
	"sync"
	"time"

	"github.com/daemonctl/daemonctl/internal/logs"
)

// lines writes the output of several services to one stream (a
// container's stdout) whole lines at a time, each prefixed with its
// service's name when more than one runs, so that no line is split or
// interleaved with another service's. It implements monitor.Output.
type lines struct {
	*logs.Lines
}

func newLines(mu *sync.Mutex, w io.Writer, prefix string) *lines {
	emit := func(seg []byte, whole bool) error {
		out := make([]byte, 0, len(prefix)+len(seg)+1)
		out = append(append(out, prefix...), seg...)
		if !whole {
			// The stream is shared: the rest of an unfinished line
			// starts a line of its own.
			out = append(out, '\n')
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := w.Write(out)
		return err
	}
	return &lines{logs.NewLines(emit, time.Now)}
}

// Close writes what is held back.
func (l *lines) Close() error { return l.Flush() }

// Package probe owns readiness: whether a started server answers yet, by
// one of four probes (a TCP connect, an HTTP GET answered 2xx, a command
// that exits 0, or a line in the server's log matching a pattern), and the
// wait for it.
package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/internal/backoff"
	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/http1"
	"github.com/daemonctl/daemonctl/internal/reaper"
)

// A Probe checks once whether a server is ready.
type Probe interface {
	// Check returns nil when the server is ready.
	Check(ctx context.Context) error
	// String names the probe for messages, e.g. "tcp 127.0.0.1:6379".
	String() string
}

// TCP passes when a TCP connection to Addr is accepted and, when Expect
// is set, the server answers Send with something Expect matches.
type TCP struct {
	Addr   string
	Send   string
	Expect *regexp.Regexp
}

// answerLimit bounds what a tcp probe reads of an answer.
const answerLimit = 64 << 10

// Check implements Probe.
func (p TCP) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if p.Send == "" && p.Expect == nil {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := io.WriteString(conn, p.Send); err != nil {
		return err
	}
	if p.Expect == nil {
		return nil
	}
	return expectAnswer(conn, p.Expect)
}

// expectAnswer reads from conn until what it has read matches expect, or
// the server closes the connection, or the deadline passes.
func expectAnswer(conn net.Conn, expect *regexp.Regexp) error {
	var answer []byte
	buf := make([]byte, 4096)
	for len(answer) < answerLimit {
		n, err := conn.Read(buf)
		answer = append(answer, buf[:n]...)
		if expect.Match(answer) {
			return nil
		}
		if err != nil {
			first, _, _ := strings.Cut(strings.TrimSpace(string(answer)), "\n")
			if first == "" {
				return fmt.Errorf("no answer matching %q: %v", expect, err)
			}
			return fmt.Errorf("answer %q does not match %q", first, expect)
		}
	}
	return fmt.Errorf("no answer matching %q in %d bytes", expect, answerLimit)
}

func (p TCP) String() string {
	if p.Expect != nil {
		return fmt.Sprintf("tcp %s expect %q", p.Addr, p.Expect)
	}
	return "tcp " + p.Addr
}

// HTTP passes when a GET of URL is answered with a 2xx status.
type HTTP struct{ URL string }

// Check implements Probe.
func (p HTTP) Check(ctx context.Context) error {
	code, status, err := http1.Status(ctx, p.URL)
	if err != nil {
		return err
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("status %s", status)
	}
	return nil
}

func (p HTTP) String() string { return "http " + p.URL }

// Exec passes when Argv, run in Dir with Env, exits 0. It runs as a
// helper command of Reaper (which may be nil): killed with its process
// group when the check's time is up.
type Exec struct {
	Argv   []string
	Dir    string
	Env    []string
	Reaper *reaper.Reaper
}

// Check implements Probe.
func (p Exec) Check(ctx context.Context) error {
	cmd := reaper.Command(ctx, p.Argv, p.Dir, p.Env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := p.Reaper.Run(cmd); err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, lastLine(msg))
		}
		return err
	}
	return nil
}

func (p Exec) String() string { return "exec " + strings.Join(p.Argv, " ") }

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Log passes when a line matching Pattern appears in File after Offset.
// It remembers how far it has read, so each Check reads only new lines.
type Log struct {
	File    string
	Pattern *regexp.Regexp
	Offset  int64
	partial string
}

// Check implements Probe.
func (p *Log) Check(context.Context) error {
	f, err := os.Open(p.File)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < p.Offset {
		p.Offset, p.partial = 0, "" // the log was rotated or truncated
	}
	if _, err := f.Seek(p.Offset, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		p.Offset += int64(len(line))
		if err != nil { // an unfinished line: keep it for the next check
			p.partial += line
			return fmt.Errorf("no line matches %q yet", p.Pattern)
		}
		full := p.partial + line
		p.partial = ""
		if p.Pattern.MatchString(strings.TrimRight(full, "\r\n")) {
			return nil
		}
	}
}

func (p *Log) String() string { return "log " + p.Pattern.String() }

// ErrDied is returned by Wait when the server exits before it is ready.
var ErrDied = errors.New("exited before it was ready")

// Wait checks p until it passes, timeout passes, ctx ends, or died is
// closed. It checks often at first and less often later, so that a fast
// server is seen ready within milliseconds and a slow one is not hammered.
func Wait(ctx context.Context, p Probe, timeout time.Duration, died <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, cancelDied := context.WithCancelCause(ctx)
	defer cancelDied(nil)
	go func() {
		select {
		case <-died:
			cancelDied(ErrDied)
		case <-ctx.Done():
		}
	}()
	var last error
	err := backoff.Until(ctx, checkEvery, func() (bool, error) {
		attempt, cancelAttempt := context.WithTimeout(ctx, min(timeout, 5*time.Second))
		defer cancelAttempt()
		last = p.Check(attempt)
		return last == nil, nil
	})
	switch cause := context.Cause(ctx); {
	case err == nil:
		return nil
	case errors.Is(cause, ErrDied):
		return ErrDied
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Errorf("not ready after %s: %s: %v", timeout, p, last)
	}
	return err
}

// checkEvery paces readiness checks: every 5ms at first, backing off to
// 250ms.
var checkEvery = backoff.Policy{Initial: 5 * time.Millisecond, Max: 250 * time.Millisecond}

// Target is where a probe looks, beyond what the config says: the
// server's working directory and environment (for exec), its log from
// the offset where this instance's output begins (for log), and the
// reaper that runs exec probes, if the caller has one.
type Target struct {
	Dir       string
	Env       []string
	LogFile   string
	LogOffset int64
	Reaper    *reaper.Reaper
}

// kinds builds each probe kind the config names (config.Ready.Kind).
var kinds = map[string]func(r *config.Ready, t Target) Probe{
	"tcp": func(r *config.Ready, _ Target) Probe {
		return TCP{Addr: r.TCP, Send: unescape(r.Send), Expect: r.ExpectPattern}
	},
	"http": func(r *config.Ready, _ Target) Probe { return HTTP{URL: r.HTTP} },
	"exec": func(r *config.Ready, t Target) Probe {
		return Exec{Argv: r.Exec, Dir: t.Dir, Env: t.Env, Reaper: t.Reaper}
	},
	"log": func(r *config.Ready, t Target) Probe {
		return &Log{File: t.LogFile, Pattern: r.LogPattern, Offset: t.LogOffset}
	},
}

// unescape turns the \n, \r and \t a config may spell in a probe's send
// into the bytes they name (YAML's plain and single-quoted scalars keep
// them as two characters).
func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t").Replace(s)
}

// For returns the probe r describes, looking at t.
func For(r *config.Ready, t Target) Probe { return kinds[r.Kind()](r, t) }

// Package probe owns readiness: whether a started server answers yet, by
// one of four probes (a TCP connect, an HTTP GET answered 2xx, a command
// that exits 0, or a line in the server's log matching a pattern), and the
// wait for it.
package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
)

// A Probe checks once whether a server is ready.
type Probe interface {
	// Check returns nil when the server is ready.
	Check(ctx context.Context) error
	// String names the probe for messages, e.g. "tcp 127.0.0.1:6379".
	String() string
}

// TCP passes when a TCP connection to Addr is accepted.
type TCP struct{ Addr string }

// Check implements Probe.
func (p TCP) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

func (p TCP) String() string { return "tcp " + p.Addr }

// HTTP passes when a GET of URL is answered with a 2xx status.
type HTTP struct{ URL string }

var httpClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Check implements Probe.
func (p HTTP) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

func (p HTTP) String() string { return "http " + p.URL }

// Exec passes when Argv, run in Dir with Env, exits 0.
type Exec struct {
	Argv []string
	Dir  string
	Env  []string
}

// Check implements Probe.
func (p Exec) Check(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, p.Argv[0], p.Argv[1:]...)
	cmd.Dir, cmd.Env = p.Dir, p.Env
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
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
	interval := 5 * time.Millisecond
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, min(timeout, 5*time.Second))
		last = p.Check(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-died:
			return ErrDied
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("readiness %s: no answer after %s (last: %v)", p, timeout, last)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
		interval = min(interval*2, 250*time.Millisecond)
	}
}

// For returns the probe r describes, for a server that runs in dir with
// env and writes its log to logFile from logOffset on.
func For(r *config.Ready, dir string, env []string, logFile string, logOffset int64) Probe {
	switch r.Kind() {
	case "tcp":
		return TCP{Addr: r.TCP}
	case "http":
		return HTTP{URL: r.HTTP}
	case "log":
		return &Log{File: logFile, Pattern: r.LogPattern, Offset: logOffset}
	}
	return Exec{Argv: r.Exec, Dir: dir, Env: env}
}

package supervise

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Client talks to the supervisor of one run_dir.
type Client struct {
	RunDir string
	// Spawn starts a supervisor for the run_dir, detached.
	Spawn func() error
}

// dial connects to the supervisor, starting one if none answers.
func (c *Client) dial() (net.Conn, error) {
	if conn, err := net.Dial("unix", SocketName(c.RunDir)); err == nil {
		return conn, nil
	}
	if err := c.Spawn(); err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	wait := time.Millisecond
	for {
		conn, err := net.Dial("unix", SocketName(c.RunDir))
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("supervisor did not answer: %w", err)
		}
		time.Sleep(wait)
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// Request is a request under way: the supervisor's identity, then the
// report lines of a start.
type Request struct {
	Accepted
	conn  net.Conn
	lines *bufio.Scanner
}

// Send makes a request ("start" or "adopt") about service name, whose
// environment builds on environ, and waits until the supervisor accepts
// it. A supervisor that is exiting as the request arrives is replaced.
func (c *Client) Send(op, name string, environ []string) (*Request, error) {
	var lastErr error
	for range 3 {
		conn, err := c.dial()
		if err != nil {
			return nil, err
		}
		r := &Request{conn: conn, lines: bufio.NewScanner(conn)}
		if err := writeRequest(conn, request{Op: op, Service: name, Environ: environ}); err != nil {
			conn.Close()
			lastErr = err
			continue
		}
		kind, detail, err := r.Next()
		if err != nil {
			conn.Close()
			lastErr = err
			continue // it went away between accept and answer
		}
		if kind != "accepted" {
			conn.Close()
			return nil, fmt.Errorf("supervisor: %s %s", kind, detail)
		}
		if err := json.Unmarshal([]byte(detail), &r.Accepted); err != nil {
			conn.Close()
			return nil, fmt.Errorf("supervisor: bad answer %q", detail)
		}
		return r, nil
	}
	return nil, fmt.Errorf("supervisor: %w", lastErr)
}

// Next returns the next report line, split into its kind and detail.
func (r *Request) Next() (kind, detail string, err error) {
	if !r.lines.Scan() {
		if err := r.lines.Err(); err != nil {
			return "", "", err
		}
		return "", "", errors.New("supervisor closed the connection")
	}
	kind, detail, _ = strings.Cut(r.lines.Text(), " ")
	return kind, detail, nil
}

// Close ends the request.
func (r *Request) Close() error { return r.conn.Close() }

// Stats asks the supervisor, if one runs, what it holds; nil when none
// runs.
func (c *Client) Stats() (*Stats, error) {
	var st *Stats
	err := c.ask(request{Op: "stats"}, func(detail string) error {
		st = new(Stats)
		return json.Unmarshal([]byte(detail), st)
	})
	return st, err
}

// Release asks the supervisor, if one runs, to stop monitoring service
// name, and waits until it has.
func (c *Client) Release(name string) error {
	if err := c.ask(request{Op: "release", Service: name}, nil); err != nil {
		return fmt.Errorf("release %s: %w", name, err)
	}
	return nil
}

// ask makes a request that the supervisor answers with one "ok DETAIL"
// line, handing DETAIL to answer. With no supervisor running there is
// nobody to ask, and nothing to do.
func (c *Client) ask(req request, answer func(detail string) error) error {
	conn, err := net.Dial("unix", SocketName(c.RunDir))
	if err != nil {
		return nil
	}
	defer conn.Close()
	if err := writeRequest(conn, req); err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	kind, detail, _ := strings.Cut(strings.TrimSpace(line), " ")
	if kind != "ok" {
		return errors.New(strings.TrimSpace(line))
	}
	if answer == nil {
		return nil
	}
	return answer(detail)
}

func writeRequest(conn net.Conn, req request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = conn.Write(append(b, '\n'))
	return err
}

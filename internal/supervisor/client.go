package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/internal/backoff"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// Client talks to the supervisor of one run_dir.
type Client struct {
	RunDir string
	// Socket is the supervisor's socket in RunDir: SocketFile, unless
	// the supervisor is a foreground run's (Options.Foreground).
	Socket string
	// Spawn starts a supervisor for the run_dir, detached.
	Spawn func() error
}

// SpawnTimeout is how long a supervisor just started has to answer.
const SpawnTimeout = 10 * time.Second

// AnswerTimeout bounds every wait for a supervisor's answer to a request
// (a report of a launch under way aside): a supervisor that is stopped or
// hung makes the request fail, naming it, instead of hanging the command.
const AnswerTimeout = 5 * time.Second

// describePeer names the process at the other end of conn and what it is
// doing, for an error: "(pid 4242, stopped (SIGSTOP))".
func describePeer(conn net.Conn) string {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return ""
	}
	pid, err := peerPID(uc)
	if err != nil {
		return ""
	}
	return Describe(pid)
}

// Describe names supervisor pid and what it is doing, for an error.
func Describe(pid int) string {
	info, err := proc.Inspect(pid)
	if err != nil {
		return fmt.Sprintf("(pid %d, gone)", pid)
	}
	return fmt.Sprintf("(pid %d, %s)", pid, info.StateName())
}

// dial connects to the supervisor, starting one if none answers.
func (c *Client) dial() (net.Conn, error) {
	conn, err := dial(c.RunDir, c.socket())
	var peerErr *PeerError
	switch {
	case err == nil:
		return conn, nil
	case errors.As(err, &peerErr):
		return nil, err
	}
	if err := c.Spawn(); err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), SpawnTimeout)
	defer cancel()
	var lastErr error
	err = backoff.Until(ctx, backoff.Policy{Initial: time.Millisecond, Max: 50 * time.Millisecond}, func() (bool, error) {
		conn, lastErr = dial(c.RunDir, c.socket())
		if errors.As(lastErr, &peerErr) {
			return false, lastErr
		}
		return lastErr == nil, nil
	})
	if errors.As(err, &peerErr) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("supervisor did not answer within %s: %w", SpawnTimeout, lastErr)
	}
	return conn, nil
}

// Request is a request under way: the supervisor's identity, then the
// report lines of a start.
type Request struct {
	Accepted
	conn  net.Conn
	lines *bufio.Scanner
}

// Send makes a request (OpStart or OpTakeOver) about service name, which
// inherits from caller, and waits until the supervisor accepts
// it. A supervisor that is exiting as the request arrives is replaced.
func (c *Client) Send(op Op, name string, caller Caller) (*Request, error) {
	var lastErr error
	for range 3 {
		conn, err := c.dial()
		if err != nil {
			return nil, err
		}
		r := &Request{conn: conn, lines: bufio.NewScanner(conn)}
		if err := writeRequest(conn, request{Op: op, Service: name, Caller: caller}); err != nil {
			conn.Close()
			lastErr = err
			continue
		}
		conn.SetReadDeadline(time.Now().Add(AnswerTimeout))
		kind, detail, err := r.Next()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			who := describePeer(conn)
			conn.Close()
			return nil, fmt.Errorf("supervisor %s did not answer within %s", who, AnswerTimeout)
		}
		if err != nil {
			conn.Close()
			lastErr = err
			continue // it went away between accept and answer
		}
		conn.SetReadDeadline(time.Time{})
		if kind != AnswerAccepted {
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
func (r *Request) Next() (kind Answer, detail string, err error) {
	if !r.lines.Scan() {
		if err := r.lines.Err(); err != nil {
			return "", "", err
		}
		return "", "", errors.New("supervisor closed the connection")
	}
	k, detail, _ := strings.Cut(r.lines.Text(), " ")
	return Answer(k), detail, nil
}

// Close ends the request.
func (r *Request) Close() error { return r.conn.Close() }

// Stats asks the supervisor, if one runs, what it holds; nil when none
// runs.
func (c *Client) Stats() (*Stats, error) {
	var st *Stats
	err := c.ask(request{Op: OpStats}, func(detail string) error {
		st = new(Stats)
		return json.Unmarshal([]byte(detail), st)
	})
	return st, err
}

// Release asks the supervisor, if one runs, to stop monitoring service
// name for the request that claimed it with claim, and waits until it
// has. A monitor of another claim (a start that came after the stop) is
// left alone.
func (c *Client) Release(name, claim string) error {
	if err := c.ask(request{Op: OpRelease, Service: name, Claim: claim}, nil); err != nil {
		return fmt.Errorf("release %s: %w", name, err)
	}
	return nil
}

// HandOver asks the supervisor, if one runs, for the exit of instance
// token of service name, whose tree a stop has just found gone, from the
// monitor serving claim: the stop then records the exit with the stop,
// and the monitor, finding it recorded, leaves without writing. It
// reports false when no exit came (or no supervisor runs, or one that
// predates the question): the monitor records the exit itself, and is
// released as before.
func (c *Client) HandOver(name, claim, token string) (proc.ExitStatus, bool, error) {
	var exit proc.ExitStatus
	handed := false
	err := c.ask(request{Op: OpHandOver, Service: name, Claim: claim, Token: token}, func(detail string) error {
		if detail == "" {
			return nil
		}
		handed = true
		return json.Unmarshal([]byte(detail), &exit)
	})
	if err != nil {
		return proc.ExitStatus{}, false, fmt.Errorf("hand-over of %s: %w", name, err)
	}
	return exit, handed, nil
}

// ask makes a request that the supervisor answers with one "ok DETAIL"
// line, handing DETAIL to answer. With no supervisor running there is
// nobody to ask, and nothing to do.
func (c *Client) ask(req request, answer func(detail string) error) error {
	conn, err := dial(c.RunDir, c.socket())
	var peerErr *PeerError
	if errors.As(err, &peerErr) {
		return err
	}
	if err != nil {
		return nil
	}
	defer conn.Close()
	if err := writeRequest(conn, req); err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(AnswerTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("supervisor %s did not answer within %s", describePeer(conn), AnswerTimeout)
	}
	if err != nil {
		return err
	}
	kind, detail, _ := strings.Cut(strings.TrimSpace(line), " ")
	if Answer(kind) != AnswerOK {
		return errors.New(strings.TrimSpace(line))
	}
	if answer == nil {
		return nil
	}
	return answer(detail)
}

func (c *Client) socket() string {
	if c.Socket != "" {
		return c.Socket
	}
	return SocketFile
}

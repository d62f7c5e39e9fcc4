package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/inherit"
	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/safepath"
)

// The supervisor speaks one JSON request line per connection; it answers
// with lines "KIND DETAIL".

// SocketFile is the supervisor's socket, in run_dir. Only run_dir's owner
// can create a name there (state.CheckDirSafe refuses any other run_dir),
// so no other user can stand in for the supervisor, as anybody could on an
// abstract socket; the socket is 0600, and each side checks the other's
// credentials (peerUID) all the same.
const SocketFile = "supervisor.sock"

// withSocketAddr calls fn with an address of runDir's socket that fits in
// sun_path (108 bytes, unix(7)) however long runDir is: past that,
// /proc/self/fd/N/supervisor.sock, through an O_PATH descriptor of runDir.
func withSocketAddr(runDir, name string, fn func(addr string) error) error {
	path := filepath.Join(runDir, name)
	if len(path) < 100 {
		return fn(path)
	}
	fd, err := unix.Open(runDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("run_dir: %w", err)
	}
	defer unix.Close(fd)
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", fd, name))
}

// dial connects to the supervisor of runDir and checks that it runs as
// this user (or root): a socket somebody else serves is refused, never
// talked to.
func dial(runDir, name string) (*net.UnixConn, error) {
	var conn *net.UnixConn
	err := withSocketAddr(runDir, name, func(addr string) error {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
		conn = c
		return err
	})
	if err != nil {
		return nil, err
	}
	if uid, err := peerUID(conn); err != nil || !trusted(uid) {
		conn.Close()
		if err == nil {
			err = fmt.Errorf("supervisor socket %s is served by uid %d, not by uid %d or root: refused", filepath.Join(runDir, name), uid, os.Geteuid())
		}
		return nil, &PeerError{Err: err}
	}
	return conn, nil
}

// PeerError is a supervisor socket served by a process that may not be
// trusted with the request: nothing was sent.
type PeerError struct{ Err error }

func (e *PeerError) Error() string { return e.Err.Error() }
func (e *PeerError) Unwrap() error { return e.Err }

// listen binds runDir's socket, replacing a stale one: the caller holds
// the supervisor lock, so no live supervisor serves it.
func listen(runDir, name string) (*net.UnixListener, error) {
	path := filepath.Join(runDir, name)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var ln *net.UnixListener
	err := withSocketAddr(runDir, name, func(addr string) error {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
		ln = l
		return err
	})
	if err != nil {
		return nil, err
	}
	// The address may name a descriptor closed by now: the path is
	// unlinked by the supervisor itself, under its lock.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// peerUID is the uid of the process at the other end of c (SO_PEERCRED,
// unix(7)).
func peerUID(c *net.UnixConn) (int, error) {
	cred, err := peerCred(c)
	if err != nil {
		return 0, err
	}
	return int(cred.Uid), nil
}

// peerPID is the pid of the process at the other end of c.
func peerPID(c *net.UnixConn) (int, error) {
	cred, err := peerCred(c)
	if err != nil {
		return 0, err
	}
	return int(cred.Pid), nil
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) { cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return nil, err
	}
	return cred, credErr
}

// trusted reports whether uid may be the other end: this user or root.
func trusted(uid int) bool { return safepath.Trusted(uint32(uid)) }

// Op is what a request asks of the supervisor.
type Op string

// The requests a supervisor serves.
const (
	OpStart    Op = "start"     // launch the service and monitor it; answered Accepted, then reports
	OpTakeOver Op = "take-over" // monitor a running service whose supervisor died; answered Accepted
	OpRelease  Op = "release"   // stop monitoring the service; answered ok once it has
	OpHandOver Op = "hand-over" // the exit of an instance a stop ended; answered ok EXIT, or ok when none came
	OpStats    Op = "stats"     // what the supervisor holds; answered ok STATS
)

// request is what a command asks of the supervisor.
type request struct {
	Op      Op     `json:"op"`
	Service string `json:"service,omitempty"`
	Caller
	// Claim names, for a release or a hand-over, the request whose
	// monitor is meant.
	Claim string `json:"claim,omitempty"`
	// Token names, for a hand-over, the instance whose exit is asked for.
	Token string `json:"token,omitempty"`
}

// Caller is what a service inherits from the command that asks for it.
type Caller struct {
	Environ []string `json:"environ,omitempty"` // its environment
	// Inherit is its umask and resource limits; nil means the
	// supervisor's own.
	Inherit *inherit.Attrs `json:"inherit,omitempty"`
}

// Answer is the kind of an answer line.
type Answer string

// The answers of a supervisor. A start is answered AnswerAccepted, then
// reports the first launch: AnswerLaunched PID, then AnswerReady or
// AnswerFailed REASON.
const (
	AnswerAccepted Answer = "accepted"
	AnswerOK       Answer = "ok"
	AnswerError    Answer = "error"
	AnswerLaunched Answer = "launched"
	AnswerReady    Answer = "ready"
	// AnswerRetrying DETAIL: the server died before it was ready, and its
	// restart policy launches it again; AnswerLaunched follows.
	AnswerRetrying Answer = "retrying"
	AnswerFailed   Answer = "failed"
)

// Accepted is the supervisor's answer to a start or take-over: who it is,
// and the claim the caller records so that this request's monitor, and no
// other, may write the service's record.
type Accepted struct {
	Supervisor proc.Identity `json:"supervisor"`
	Claim      string        `json:"claim"`
}

func writeRequest(conn net.Conn, req request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = conn.Write(append(b, '\n'))
	return err
}

func writeAnswer(c net.Conn, kind Answer, detail string) error {
	_, err := fmt.Fprintf(c, "%s %s\n", kind, detail)
	return err
}

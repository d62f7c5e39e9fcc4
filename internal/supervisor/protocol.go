package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// The supervisor speaks one JSON request line per connection; it answers
// with lines "KIND DETAIL".

// SocketName is the abstract unix socket (no file, so nothing stale is
// ever left) of the supervisor of runDir.
func SocketName(runDir string) string {
	sum := sha256.Sum256([]byte(runDir))
	return "@daemonctl-" + hex.EncodeToString(sum[:12])
}

// Op is what a request asks of the supervisor.
type Op string

// The requests a supervisor serves.
const (
	OpStart    Op = "start"     // launch the service and monitor it; answered Accepted, then reports
	OpTakeOver Op = "take-over" // monitor a running service whose supervisor died; answered Accepted
	OpRelease  Op = "release"   // stop monitoring the service; answered ok once it has
	OpStats    Op = "stats"     // what the supervisor holds; answered ok STATS
)

// request is what a command asks of the supervisor.
type request struct {
	Op      Op       `json:"op"`
	Service string   `json:"service,omitempty"`
	Environ []string `json:"environ,omitempty"` // the caller's environment
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

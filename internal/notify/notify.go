// Package notify speaks systemd's service notification protocol
// (sd_notify(3)): datagrams of NAME=VALUE lines sent to the unix socket
// named by $NOTIFY_SOCKET, so that a Type=notify unit running `daemonctl
// run` is started once its services are ready, and watched. No cgo, no
// libsystemd: the protocol is one datagram per message.
package notify

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// Notifier sends notifications to one socket; the zero Notifier (no
// $NOTIFY_SOCKET) sends nothing.
type Notifier struct {
	socket string
}

// FromEnviron returns the Notifier environ asks for ($NOTIFY_SOCKET), and
// how often to ping the watchdog ($WATCHDOG_USEC, halved; 0 for none).
func FromEnviron(environ []string, pid int) (Notifier, time.Duration) {
	var n Notifier
	var usec int64
	watchdogPID := pid
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET":
			n.socket = v
		case "WATCHDOG_USEC":
			usec, _ = strconv.ParseInt(v, 10, 64)
		case "WATCHDOG_PID":
			watchdogPID, _ = strconv.Atoi(v)
		}
	}
	if watchdogPID != pid || usec <= 0 {
		return n, 0
	}
	return n, time.Duration(usec) * time.Microsecond / 2
}

// Send sends lines ("READY=1", "STATUS=…") as one notification.
func (n Notifier) Send(lines ...string) error {
	if n.socket == "" {
		return nil
	}
	addr := &net.UnixAddr{Name: n.socket, Net: "unixgram"}
	if strings.HasPrefix(n.socket, "@") {
		addr.Name = "\x00" + n.socket[1:] // an abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(strings.Join(lines, "\n") + "\n"))
	return err
}

// Unset returns environ without the variables of this protocol, which
// are for the process systemd started, not for the services it runs.
func Unset(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k != "NOTIFY_SOCKET" && k != "WATCHDOG_USEC" && k != "WATCHDOG_PID" {
			out = append(out, kv)
		}
	}
	return out
}

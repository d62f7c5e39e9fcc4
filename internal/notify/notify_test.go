package notify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestSend: a notification reaches a datagram socket standing in for
// systemd's, whole.
func TestSend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n, every := FromEnviron([]string{"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=2000000", "WATCHDOG_PID=" + strconv.Itoa(os.Getpid())}, os.Getpid())
	if every != time.Second {
		t.Errorf("watchdog every %s, want 1s (half of WATCHDOG_USEC)", every)
	}
	if err := n.Send("READY=1", "STATUS=2 services ready"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := conn.Read(buf)
	if err != nil || string(buf[:k]) != "READY=1\nSTATUS=2 services ready\n" {
		t.Fatalf("got %q, %v", buf[:k], err)
	}
	if _, every := FromEnviron([]string{"WATCHDOG_USEC=2000000", "WATCHDOG_PID=1"}, os.Getpid()); every != 0 {
		t.Error("a watchdog for another pid was taken")
	}
	if got := Unset([]string{"A=1", "NOTIFY_SOCKET=x", "WATCHDOG_USEC=5"}); len(got) != 1 || got[0] != "A=1" {
		t.Errorf("Unset = %v", got)
	}
}

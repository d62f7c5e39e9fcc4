package listen

import (
	"net"
	"os"
	"testing"
)

// TestSocketsAndOwner listens on a loopback port: the socket is found,
// this process holds it, and it is its owner; a closed port has none.
func TestSocketsAndOwner(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v (skipped)", addr, err)
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		sockets, err := Sockets(port)
		if err != nil || len(sockets) == 0 {
			t.Fatalf("%s: Sockets(%d) = %v, %v", addr, port, sockets, err)
		}
		if !Holds(os.Getpid(), sockets) {
			t.Errorf("%s: this process does not hold its own listener", addr)
		}
		if owner := Owner(sockets); owner != os.Getpid() {
			t.Errorf("%s: Owner = %d, want %d", addr, owner, os.Getpid())
		}
		l.Close()
		if sockets, _ := Sockets(port); len(sockets) != 0 {
			t.Errorf("%s: a closed port still has listeners %v", addr, sockets)
		}
	}
}

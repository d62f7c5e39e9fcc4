// Package listen finds who listens on a local TCP port: the listening
// sockets in /proc/net/tcp and tcp6, and the processes whose descriptors
// hold them. A readiness probe uses it to make sure it heard its own
// server, not an old copy or another program on the same port.
package listen

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/daemonctl/daemonctl/internal/proc"
)

// stateListen is TCP_LISTEN in /proc/net/tcp's st column.
const stateListen = "0A"

// Sockets returns the inodes of the sockets listening on TCP port, on
// any local address, in this network namespace.
func Sockets(port int) ([]uint64, error) {
	var out []uint64
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		found, err := listening(table, port)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func listening(table string, port int) ([]uint64, error) {
	f, err := os.Open(table)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := strings.ToUpper(strconv.FormatInt(int64(port), 16))
	want = strings.Repeat("0", 4-len(want)) + want
	var out []uint64
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != stateListen {
			continue
		}
		_, p, ok := strings.Cut(fields[1], ":")
		if !ok || p != want {
			continue
		}
		if inode, err := strconv.ParseUint(fields[9], 10, 64); err == nil && inode != 0 {
			out = append(out, inode)
		}
	}
	return out, sc.Err()
}

// Holds reports whether process pid has one of the sockets open.
func Holds(pid int, sockets []uint64) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		inode, ok := socketInode(link)
		if !ok {
			continue
		}
		for _, s := range sockets {
			if inode == s {
				return true
			}
		}
	}
	return false
}

// Owner returns a process that has one of the sockets open, 0 if none
// can be seen (another user's, without the rights to look).
func Owner(sockets []uint64) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && Holds(pid, sockets) {
			return pid
		}
	}
	return 0
}

// socketInode reads a descriptor link of the form socket:[INODE].
func socketInode(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	inode, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	return inode, err == nil
}

// Describe names the process holding one of the sockets, for messages:
// "pid 4242 (java -cp …)", or "a process daemonctl cannot see".
func Describe(sockets []uint64) string {
	pid := Owner(sockets)
	if pid == 0 {
		return "a process daemonctl cannot see"
	}
	return "pid " + strconv.Itoa(pid) + " (" + proc.CommandLine(pid) + ")"
}

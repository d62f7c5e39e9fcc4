package proc

import (
	"bytes"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// readProcFile reads a small /proc file into buf with one read: open,
// read and close, no *os.File (whose registration with the runtime's
// poller costs more than the read).
func readProcFile(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// readStat parses /proc/PID/stat (proc(5)) with three system calls and no
// allocation beyond the path: status and stop scan every process on the
// host, so this is their hot loop. os.Open would also register each file
// with the runtime's poller, which costs more than the read.
func readStat(pid int) (ppid, pgid int, state byte, startTicks uint64, err error) {
	var pathBuf [32]byte
	path := strconv.AppendInt(append(pathBuf[:0], "/proc/"...), int64(pid), 10)
	path = append(path, "/stat"...)
	var buf [1024]byte
	line, err := readProcFile(string(path), buf[:])
	if err != nil || len(line) == 0 {
		return 0, 0, 0, 0, ErrGone
	}
	// The command name (field 2) may contain spaces and parentheses; the
	// fields that follow start after its last ')'.
	end := bytes.LastIndexByte(line, ')')
	if end < 0 || end+2 >= len(line) {
		return 0, 0, 0, 0, errMalformed
	}
	fields := bytes.Fields(line[end+2:])
	// fields[0] is field 3 (state); field N is fields[N-3].
	if len(fields) < 20 {
		return 0, 0, 0, 0, errMalformed
	}
	state = fields[0][0]
	ppid, _ = strconv.Atoi(string(fields[4-3]))
	pgid, _ = strconv.Atoi(string(fields[5-3]))
	startTicks, err = strconv.ParseUint(string(fields[22-3]), 10, 64)
	if err != nil {
		return 0, 0, 0, 0, errMalformed
	}
	return ppid, pgid, state, startTicks, nil
}

var errMalformed = errors.New("malformed /proc/PID/stat")

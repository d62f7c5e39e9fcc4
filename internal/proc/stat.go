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
	return parseStat(line)
}

// parseStat reads fields 3 (state), 4 (ppid), 5 (pgrp) and 22
// (starttime) of a stat line. The command name (field 2) may contain
// spaces and parentheses; the fields that follow start after its last
// ')'. It walks the line instead of splitting it: a split's slice of 50
// fields was a heap allocation a process, and a fresh command's heap
// pages are page faults.
func parseStat(line []byte) (ppid, pgid int, state byte, startTicks uint64, err error) {
	end := bytes.LastIndexByte(line, ')')
	if end < 0 || end+2 >= len(line) {
		return 0, 0, 0, 0, errMalformed
	}
	var fields [4][]byte // fields 3, 4, 5 and 22
	rest := line[end+2:]
	for n := 3; n <= 22 && len(rest) > 0; n++ {
		field, after, _ := bytes.Cut(rest, []byte{' '})
		switch n {
		case 3, 4, 5:
			fields[n-3] = field
		case 22:
			fields[3] = bytes.TrimRight(field, "\n")
		}
		rest = after
	}
	if len(fields[0]) == 0 || len(fields[3]) == 0 {
		return 0, 0, 0, 0, errMalformed
	}
	state = fields[0][0]
	ppid, _ = atoi(fields[1])
	pgid, _ = atoi(fields[2])
	start, ok := atoi(fields[3])
	if !ok {
		return 0, 0, 0, 0, errMalformed
	}
	return ppid, pgid, state, uint64(start), nil
}

// atoi parses a non-negative decimal number without the string that
// strconv.Atoi would need.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

var errMalformed = errors.New("malformed /proc/PID/stat")

package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// A PIDCount is where the kernel's count of pids stood just before a
// process was made: how many processes and threads had been made since
// boot (/proc/stat's "processes"), how many lived (/proc/loadavg), and
// pid_max. Kept with a leader, it tells whether the pid count has gone
// round since (NoWrapSince): while it has not, every process younger than
// the leader has a higher pid, and a stop need not read the others.
type PIDCount struct {
	Forks   uint64 `json:"forks"`
	Threads uint64 `json:"threads"`
	PIDMax  uint64 `json:"pid_max"`
}

// ReadPIDCount reads the count now.
func ReadPIDCount() (PIDCount, error) {
	forks, err := readForks()
	if err != nil {
		return PIDCount{}, err
	}
	threads, err := readThreads()
	if err != nil {
		return PIDCount{}, err
	}
	pidMax, err := readPIDMax()
	if err != nil {
		return PIDCount{}, err
	}
	return PIDCount{Forks: forks, Threads: threads, PIDMax: pidMax}, nil
}

// NoWrapSince reports whether the pids handed out since c was read
// cannot have gone past pid_max and begun again from the bottom, for a
// leader given pid just after: then a process made since has a pid above
// the leader's.
//
// Linux hands out the next free pid above the last one handed out. Since
// c, that one moved up by one a process or thread made (Forks counts them
// in every pid namespace, so it bounds those of this one) and by one a
// pid it skipped, which was in use by a thread already living at c
// (Threads). So it stands at most pid + those below the smaller pid_max,
// if it has not gone round. A zero c (a leader started before daemonctl
// kept it, or adopted) tells nothing. What writes ns_last_pid or asks
// clone3 for a pid (checkpoint/restore) is outside this reasoning, as it
// is outside the pid windows a stop checks (pidWindow).
func NoWrapSince(c PIDCount, pid int) (bool, error) {
	if c.PIDMax == 0 || pid <= 0 {
		return false, nil
	}
	// The threads living now do not count: only those at c could hold
	// pids the count skipped.
	forks, err := readForks()
	if err != nil {
		return false, err
	}
	pidMax, err := readPIDMax()
	if err != nil {
		return false, err
	}
	return noWrap(c, PIDCount{Forks: forks, PIDMax: pidMax}, pid), nil
}

// noWrap is NoWrapSince with the count now given.
func noWrap(then, now PIDCount, pid int) bool {
	if then.PIDMax == 0 || pid <= 0 || now.Forks < then.Forks {
		return false // unknown, or another boot
	}
	highest := uint64(pid) + (now.Forks - then.Forks) + then.Threads
	return highest < min(then.PIDMax, now.PIDMax)
}

// readForks reads the "processes" line of /proc/stat: processes and
// threads made since boot (proc(5)).
func readForks() (uint64, error) {
	// One read, without an os.File, holds the whole of /proc/stat but on
	// hosts of many CPUs or interrupts, whose lines push it further.
	b, err := readProcFile("/proc/stat", make([]byte, 4<<10))
	if err != nil {
		return 0, err
	}
	line, ok := processesLine(b)
	if !ok {
		if b, err = os.ReadFile("/proc/stat"); err != nil {
			return 0, err
		}
		if line, ok = processesLine(b); !ok {
			return 0, errors.New("/proc/stat: no processes line")
		}
	}
	return parseUint("/proc/stat processes", line)
}

// processesLine returns the number on the "processes" line of stat, if
// stat holds the whole line.
func processesLine(stat []byte) ([]byte, bool) {
	_, after, ok := bytes.Cut(stat, []byte("\nprocesses "))
	if !ok {
		return nil, false
	}
	line, _, ok := bytes.Cut(after, []byte{'\n'})
	return line, ok
}

// readThreads reads the fourth field of /proc/loadavg, "running/total":
// the threads that exist now.
func readThreads() (uint64, error) {
	var buf [128]byte
	b, err := readProcFile("/proc/loadavg", buf[:])
	if err != nil {
		return 0, err
	}
	fields := bytes.Fields(b)
	if len(fields) < 4 {
		return 0, fmt.Errorf("/proc/loadavg: %q", b)
	}
	_, total, ok := bytes.Cut(fields[3], []byte{'/'})
	if !ok {
		return 0, fmt.Errorf("/proc/loadavg: %q", b)
	}
	return parseUint("/proc/loadavg threads", total)
}

func readPIDMax() (uint64, error) { return readProcNumber("/proc/sys/kernel/pid_max") }

// readProcNumber reads a /proc file that holds one number.
func readProcNumber(path string) (uint64, error) {
	var buf [32]byte
	b, err := readProcFile(path, buf[:])
	if err != nil {
		return 0, err
	}
	return parseUint(path, b)
}

func parseUint(what string, b []byte) (uint64, error) {
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

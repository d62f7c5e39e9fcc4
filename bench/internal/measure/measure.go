// Package measure holds what every benchmark program of bench/ needs:
// running a command quietly, the median of timings, millisecond figures,
// and giving up with the program's name on the first error.
package measure

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Run runs name with args in dir, in a session of its own, and returns
// an error with its output if it fails.
func Run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// Median returns the median of d.
func Median(d []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}

// Ms formats d in milliseconds with the given decimals.
func Ms(d time.Duration, decimals int) string {
	return fmt.Sprintf("%.*f ms", decimals, float64(d)/float64(time.Millisecond))
}

// Check ends the program, naming it, if err is not nil.
func Check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
		os.Exit(1)
	}
}

// Prepare is the start every benchmark program shares: daemonctl's binary
// as an absolute path, and a fresh directory to work in, which done
// removes.
func Prepare(daemonctl, prefix string) (binary, dir string, done func()) {
	binary, err := filepath.Abs(daemonctl)
	Check(err)
	dir, err = os.MkdirTemp("", prefix)
	Check(err)
	return binary, dir, func() { os.RemoveAll(dir) }
}

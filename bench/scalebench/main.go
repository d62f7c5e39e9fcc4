// Command scalebench shows how daemonctl's cost grows with the number of
// services: start, status (table and JSON) and stop of 1, 10, 100 and 1,000
// services, each `sleep 1000`, timed end to end as a user runs them.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/bench/internal/measure"
)

func main() {
	dc := flag.String("daemonctl", "bin/daemonctl", "daemonctl binary")
	runs := flag.Int("runs", 10, "runs of each status case")
	flag.Parse()
	bin, _ := filepath.Abs(*dc)
	fmt.Println("| services | start | status (median) | status --json (median) | status --json per service | stop |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, n := range []int{1, 10, 100, 1000} {
		dir, err := os.MkdirTemp("", "scalebench")
		measure.Check(err)
		var cfg strings.Builder
		cfg.WriteString("services:\n")
		for i := range n {
			fmt.Fprintf(&cfg, "  s%d:\n    command: [sleep, \"1000\"]\n    start_grace: 0s\n", i)
		}
		measure.Check(os.WriteFile(filepath.Join(dir, "daemonctl.yaml"), []byte(cfg.String()), 0o644))
		start := timed(dir, bin, "start")
		var status, js []time.Duration
		for range *runs {
			status = append(status, timed(dir, bin, "status"))
			js = append(js, timed(dir, bin, "status", "--json"))
		}
		stop := timed(dir, bin, "stop")
		os.RemoveAll(dir)
		fmt.Printf("| %d | %s | %s | %s | %s | %s |\n", n, ms(start), ms(measure.Median(status)), ms(measure.Median(js)), us(measure.Median(js)/time.Duration(n)), ms(stop))
	}
}

func timed(dir, bin string, args ...string) time.Duration {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	took := time.Since(began)
	if err != nil && args[0] != "status" {
		measure.Check(fmt.Errorf("daemonctl %s: %v\n%s", strings.Join(args, " "), err, out.String()))
	}
	return took
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func ms(d time.Duration) string { return measure.Ms(d, 1) }

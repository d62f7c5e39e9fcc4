// Command clusterbench times `daemonctl cluster status` across ten hosts
// beside the serial ssh loop that DolphinScheduler's scripts use (one
// host after another), in one run on one machine: with each host's ssh
// connection kept from the command before (warm), opened by the command
// (cold), and not shared at all. The hosts are network
// namespaces with an sshd each (internal/sshlab), every one running a
// `worker` service under daemonctl, as DolphinScheduler runs a worker
// server on many hosts. Needs root, iproute2 and sshd.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/bench/internal/measure"
	"github.com/daemonctl/daemonctl/internal/sshlab"
)

var (
	daemonctl = flag.String("daemonctl", "bin/daemonctl", "daemonctl binary")
	hostCount = flag.Int("hosts", 10, "hosts")
	runs      = flag.Int("runs", 10, "runs per case")
)

func main() {
	flag.Parse()
	dc, dir, done := measure.Prepare(*daemonctl, "clusterbench")
	defer done()
	lab, err := sshlab.New(filepath.Join(dir, "lab"), "cb")
	measure.Check(err)
	defer lab.Close()

	var hosts strings.Builder
	var loop []string
	for i := 1; i <= *hostCount; i++ {
		name := fmt.Sprintf("h%d", i)
		h, err := lab.AddHost(name)
		measure.Check(err)
		home := filepath.Join(dir, name)
		measure.Check(os.MkdirAll(filepath.Join(home, "bin"), 0o755))
		measure.Check(os.Symlink(dc, filepath.Join(home, "bin", "daemonctl")))
		fmt.Fprintf(&hosts, "  %s:\n    address: %s\n    services: [worker]\n    install_path: %s\n", name, h.Address, home)
		loop = append(loop, fmt.Sprintf("ssh %s %s 'cd %s && bin/daemonctl status'", strings.Join(lab.SSHOptions(), " "), h.Address, home))
	}
	var opts []string
	for _, o := range lab.SSHOptions() {
		opts = append(opts, fmt.Sprintf("%q", o))
	}
	// Each config has a run_dir of its own, so its ssh connections
	// (ControlMaster) are its own.
	config := func(parallel int, runDir string, persist string) string {
		return fmt.Sprintf("run_dir: %s\nservices:\n  worker:\n    command: [sleep, \"1000\"]\n    start_grace: 0s\nhosts:\n%sssh:\n  parallel: %d\n  control_persist: %s\n  options: [%s]\n", runDir, hosts.String(), parallel, persist, strings.Join(opts, ", "))
	}
	for i := 1; i <= *hostCount; i++ {
		measure.Check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("h%d", i), "daemonctl.yaml"), []byte(config(10, "run", "0")), 0o644))
	}
	measure.Check(os.WriteFile(filepath.Join(dir, "warm.yaml"), []byte(config(10, "warm", "60s")), 0o644))
	measure.Check(os.WriteFile(filepath.Join(dir, "cold.yaml"), []byte(config(10, "cold", "60s")), 0o644))
	measure.Check(os.WriteFile(filepath.Join(dir, "single.yaml"), []byte(config(10, "single", "0")), 0o644))
	measure.Check(os.WriteFile(filepath.Join(dir, "serial.yaml"), []byte(config(1, "serial", "0")), 0o644))
	measure.Check(measure.Run(dir, dc, "-c", "warm.yaml", "cluster", "start"))
	defer measure.Run(dir, dc, "-c", "warm.yaml", "cluster", "stop")
	defer sshlab.EndConnections(dir)

	cases := []struct {
		name string
		argv []string
		// before runs untimed before each timed run
		before func()
	}{
		{"daemonctl cluster status, connections warm (ControlMaster)", []string{dc, "-c", "warm.yaml", "cluster", "status"}, nil},
		{"daemonctl cluster status --json, connections warm", []string{dc, "-c", "warm.yaml", "cluster", "status", "--json"}, nil},
		{"daemonctl cluster status, cold (opens each host's connection)", []string{dc, "-c", "cold.yaml", "cluster", "status"}, func() { sshlab.EndConnections(filepath.Join(dir, "cold")) }},
		{"daemonctl cluster status, control_persist: 0 (an ssh each)", []string{dc, "-c", "single.yaml", "cluster", "status"}, nil},
		{"daemonctl cluster status, ssh.parallel 1, no sharing", []string{dc, "-c", "serial.yaml", "cluster", "status"}, nil},
		{"serial ssh loop, as DolphinScheduler's scripts", []string{"bash", "-c", strings.Join(loop, "\n")}, nil},
	}
	results := make([][]time.Duration, len(cases))
	for i, c := range cases {
		for range *runs {
			if c.before != nil {
				c.before()
			}
			began := time.Now()
			measure.Check(measure.Run(dir, c.argv[0], c.argv[1:]...))
			results[i] = append(results[i], time.Since(began))
		}
	}
	fmt.Printf("| status of 1 service on each of %d hosts over ssh | runs | min | median | max | median ÷ daemonctl |\n|---|---|---|---|---|---|\n", *hostCount)
	ref := measure.Median(results[0])
	for i, c := range cases {
		r := slices.Sorted(slices.Values(results[i]))
		fmt.Printf("| %s | %d | %s | %s | %s | %.2f× |\n", c.name, len(r), ms(r[0]), ms(measure.Median(r)), ms(r[len(r)-1]), float64(measure.Median(r))/float64(ref))
	}
}

func ms(d time.Duration) string { return measure.Ms(d, 1) }

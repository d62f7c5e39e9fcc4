// Command supervisebench compares daemonctl with supervisord managing the
// same programs, in one run on one machine: the memory each tool's own
// processes hold per supervised program (PSS, from smaps_rollup), and the
// wall time to bring 50 servers up behind tcp readiness checks.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/daemonctl/daemonctl/bench/internal/measure"
)

var (
	daemonctl  = flag.String("daemonctl", "bin/daemonctl", "daemonctl binary")
	demoserver = flag.String("demoserver", "bin/demoserver", "server used for the start case")
	runs       = flag.Int("runs", 3, "runs per case")
)

func main() {
	flag.Parse()
	*daemonctl, _ = filepath.Abs(*daemonctl)
	*demoserver, _ = filepath.Abs(*demoserver)
	fmt.Println("| case | tool | runs | min | median | max | daemonctl ÷ supervisord (median) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, n := range []int{20, 100} {
		d := sample(func() float64 { return daemonctlPSS(n) })
		s := sample(func() float64 { return supervisordPSS(n) })
		row(fmt.Sprintf("PSS per program, %d programs", n), "daemonctl", d, "KiB", s)
		row(fmt.Sprintf("PSS per program, %d programs", n), "supervisord", s, "KiB", nil)
	}
	d := sample(func() float64 { return daemonctlStart(50, 5) })
	s := sample(func() float64 { return supervisordStart(50) })
	row("start 50 servers, tcp ready (daemonctl: 5-level chain)", "daemonctl", d, "ms", s)
	row("start 50 servers, tcp ready (supervisord: no ordering)", "supervisord", s, "ms", nil)
}

func sample(f func() float64) []float64 {
	var out []float64
	for range *runs {
		out = append(out, f())
	}
	slices.Sort(out)
	return out
}

func row(name, tool string, v []float64, unit string, other []float64) {
	ratio := ""
	if other != nil {
		ratio = fmt.Sprintf("%.2f×", v[len(v)/2]/other[len(other)/2])
	}
	fmt.Printf("| %s | %s | %d | %.0f %s | %.0f %s | %.0f %s | %s |\n", name, tool, len(v), v[0], unit, v[len(v)/2], unit, v[len(v)-1], unit, ratio)
}

// pss returns the proportional set size of pid in KiB.
func pss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	measure.Check(err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	panic("no Pss in smaps_rollup")
}

func daemonctlPSS(n int) float64 {
	dir := tempDir()
	defer os.RemoveAll(dir)
	var cfg strings.Builder
	cfg.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  s%d:\n    command: [sleep, \"1000\"]\n    start_grace: 0s\n", i)
	}
	write(dir, "daemonctl.yaml", cfg.String())
	run(dir, *daemonctl, "start")
	defer run(dir, *daemonctl, "stop")
	time.Sleep(2 * time.Second) // steady state
	return pss(supervisorPID(dir)) / float64(n)
}

func supervisorPID(dir string) int {
	out := run(dir, *daemonctl, "status", "--json", "s0")
	i := bytes.Index(out, []byte(`"supervisor_pid": `))
	measure.Check(boolErr(i >= 0, "no supervisor_pid"))
	rest := out[i+len(`"supervisor_pid": `):]
	end := bytes.IndexAny(rest, ",\n")
	pid, err := strconv.Atoi(string(rest[:end]))
	measure.Check(err)
	return pid
}

func supervisordConf(dir string, programs map[string]string) {
	var conf strings.Builder
	fmt.Fprintf(&conf, "[unix_http_server]\nfile=%s/supervisor.sock\n\n[supervisord]\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchildlogdir=%s\n\n", dir, dir, dir, dir)
	fmt.Fprintf(&conf, "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n[supervisorctl]\nserverurl=unix://%s/supervisor.sock\n\n", dir)
	names := make([]string, 0, len(programs))
	for name := range programs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&conf, "[program:%s]\ncommand=%s\nstartsecs=0\nautorestart=false\n\n", name, programs[name])
	}
	write(dir, "supervisord.conf", conf.String())
}

func startSupervisord(dir string) (pid int, stop func()) {
	run(dir, "supervisord", "-c", filepath.Join(dir, "supervisord.conf"))
	var b []byte
	for range 500 {
		var err error
		if b, err = os.ReadFile(filepath.Join(dir, "supervisord.pid")); err == nil && len(b) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	measure.Check(err)
	return pid, func() {
		syscall.Kill(pid, syscall.SIGTERM)
		for range 1000 {
			if syscall.Kill(pid, 0) != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func supervisordPSS(n int) float64 {
	dir := tempDir()
	defer os.RemoveAll(dir)
	programs := map[string]string{}
	for i := range n {
		programs[fmt.Sprintf("s%d", i)] = "sleep 1000"
	}
	supervisordConf(dir, programs)
	pid, stop := startSupervisord(dir)
	defer stop()
	waitRunning(dir, n)
	time.Sleep(2 * time.Second) // steady state
	return pss(pid) / float64(n)
}

func waitRunning(dir string, n int) {
	for range 1000 {
		out, _ := exec.Command("supervisorctl", "-c", filepath.Join(dir, "supervisord.conf"), "status").Output()
		if bytes.Count(out, []byte("RUNNING")) == n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	panic("supervisord programs not running")
}

func daemonctlStart(n, levels int) float64 {
	dir := tempDir()
	defer os.RemoveAll(dir)
	ports := freePorts(n)
	width := n / levels
	var cfg strings.Builder
	cfg.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  s%d:\n    command: [%s, -listen, \"127.0.0.1:%d\", -drain, 0s]\n    ready: {tcp: \"127.0.0.1:%d\"}\n", i, *demoserver, ports[i], ports[i])
		if i >= width {
			fmt.Fprintf(&cfg, "    depends_on: [s%d]\n", i-width)
		}
	}
	write(dir, "daemonctl.yaml", cfg.String())
	began := time.Now()
	run(dir, *daemonctl, "start")
	took := time.Since(began)
	run(dir, *daemonctl, "stop")
	return float64(took) / float64(time.Millisecond)
}

func supervisordStart(n int) float64 {
	dir := tempDir()
	defer os.RemoveAll(dir)
	ports := freePorts(n)
	programs := map[string]string{}
	for i := range n {
		programs[fmt.Sprintf("s%d", i)] = fmt.Sprintf("%s -listen 127.0.0.1:%d -drain 0s", *demoserver, ports[i])
	}
	supervisordConf(dir, programs)
	began := time.Now()
	_, stop := startSupervisord(dir)
	defer stop()
	for _, p := range ports {
		for {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
				c.Close()
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return float64(time.Since(began)) / float64(time.Millisecond)
}

func freePorts(n int) []int {
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		measure.Check(err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func tempDir() string {
	d, err := os.MkdirTemp("", "supervisebench")
	measure.Check(err)
	return d
}

func write(dir, name, content string) {
	measure.Check(os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

func run(dir, name string, args ...string) []byte {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		// status exits non-zero by design; callers that care check output
		if name != *daemonctl || len(args) == 0 || args[0] != "status" {
			measure.Check(fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String()))
		}
	}
	return out.Bytes()
}

func boolErr(ok bool, msg string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%s", msg)
}

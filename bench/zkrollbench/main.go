// Command zkrollbench restarts a three-node ZooKeeper ensemble under
// daemonctl, one node per host (internal/sshlab namespaces), while a
// kazoo client (writer.py) creates znodes without pause, and prints for
// each way of restarting it the time the restart took, the writes made,
// given up and lost, and the longest write stall: `cluster restart
// --rolling` with a probe that waits until the node has joined (srvr
// says leader or follower), the same roll with a port-only probe, and
// `cluster restart` of all at once. Needs root, iproute2, sshd, Debian's
// zookeeper and python3-kazoo.
package main

import (
	"bufio"
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
	"time"

	"github.com/daemonctl/daemonctl/bench/internal/measure"
	"github.com/daemonctl/daemonctl/internal/sshlab"
)

var (
	daemonctl = flag.String("daemonctl", "bin/daemonctl", "daemonctl binary")
	runs      = flag.Int("runs", 3, "runs per case")
)

const clientPort = 2181

func main() {
	flag.Parse()
	writer, err := filepath.Abs("bench/zkrollbench/writer.py")
	measure.Check(err)
	dc, dir, done := measure.Prepare(*daemonctl, "zkrollbench")
	defer done()
	lab, err := sshlab.New(filepath.Join(dir, "lab"), "zk")
	measure.Check(err)
	defer lab.Close()

	var addrs []string
	for i := 1; i <= 3; i++ {
		h, err := lab.AddHost(fmt.Sprintf("h%d", i))
		measure.Check(err)
		addrs = append(addrs, h.Address)
	}
	e := &ensemble{dir: dir, addrs: addrs, lab: lab}
	for i := range addrs {
		e.layOut(i+1, dc)
	}
	e.useProbe(srvrProbe)
	measure.Check(measure.Run(dir, dc, "cluster", "start"))
	defer measure.Run(dir, dc, "cluster", "stop")

	cases := []struct {
		name  string
		probe string
		argv  []string
	}{
		{"cluster restart --rolling, ready = joined (srvr)", srvrProbe, []string{"cluster", "restart", "--rolling"}},
		{"cluster restart --rolling, ready = port open", portProbe, []string{"cluster", "restart", "--rolling"}},
		{"cluster restart (all at once)", srvrProbe, []string{"cluster", "restart"}},
	}
	fmt.Println("| restart of a 3-node ZooKeeper ensemble under writes | runs | restart (median) | writes | given up | lost | longest stall (median) | longest stall (max) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for ci, c := range cases {
		e.useProbe(c.probe)
		var took, stalls []time.Duration
		var writes, givenUp, lost int
		for run := range *runs {
			e.waitJoined()
			stats := e.underWrites(writer, fmt.Sprintf("c%dr%d", ci, run), func() {
				began := time.Now()
				measure.Check(measure.Run(dir, dc, c.argv...))
				took = append(took, time.Since(began))
			})
			writes += stats["written"]
			givenUp += stats["given_up"]
			lost += stats["lost"]
			stalls = append(stalls, time.Duration(stats["longest_stall_ms"])*time.Millisecond)
		}
		fmt.Printf("| %s | %d | %s | %d | %d | %d | %s | %s |\n", c.name, *runs, ms(measure.Median(took)), writes, givenUp, lost,
			ms(measure.Median(stalls)), ms(slices.Max(stalls)))
	}
	e.useProbe(srvrProbe)
}

// ensemble is the three nodes' files, one directory per host.
type ensemble struct {
	dir   string
	addrs []string
	lab   *sshlab.Lab
}

const (
	srvrProbe = "{tcp: \"127.0.0.1:2181\", send: srvr, expect: 'Mode: (leader|follower)', timeout: 120s}"
	portProbe = "{tcp: \"127.0.0.1:2181\", timeout: 120s}"
)

// layOut makes host n's ZooKeeper: Debian's zkServer.sh, an env file
// that points it at this directory, zoo.cfg with every node's address,
// its myid.
func (e *ensemble) layOut(n int, dc string) {
	home := filepath.Join(e.dir, fmt.Sprintf("h%d", n))
	for _, d := range []string{"bin", "zk/bin", "zk/conf", "zk/libexec", "zk/data", "zk/logs"} {
		measure.Check(os.MkdirAll(filepath.Join(home, d), 0o755))
	}
	measure.Check(os.Symlink(dc, filepath.Join(home, "bin", "daemonctl")))
	measure.Check(os.Symlink("/usr/share/zookeeper/bin/zkServer.sh", filepath.Join(home, "zk/bin/zkServer.sh")))
	env := `ZKDIR=$PWD/zk
ZOOMAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
ZOOCFGDIR=$ZKDIR/conf
ZOOCFG=$ZOOCFGDIR/zoo.cfg
ZOO_LOG_DIR=$ZKDIR/logs
ZOO_LOG4J_PROP=WARN,CONSOLE
JMXDISABLE=true
JVMFLAGS="-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
JAVA=java
CLASSPATH="/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
`
	measure.Check(os.WriteFile(filepath.Join(home, "zk/libexec/zkEnv.sh"), []byte(env), 0o644))
	cfg := fmt.Sprintf("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=zk/data\nclientPort=%d\nadmin.enableServer=false\n4lw.commands.whitelist=srvr,ruok\n", clientPort)
	for i, a := range e.addrs {
		cfg += fmt.Sprintf("server.%d=%s:2888:3888\n", i+1, a)
	}
	measure.Check(os.WriteFile(filepath.Join(home, "zk/conf/zoo.cfg"), []byte(cfg), 0o644))
	measure.Check(os.WriteFile(filepath.Join(home, "zk/data/myid"), []byte(strconv.Itoa(n)+"\n"), 0o644))
}

// useProbe writes the config, with this readiness probe, here and on
// every host.
func (e *ensemble) useProbe(probe string) {
	var b strings.Builder
	fmt.Fprintf(&b, "services:\n  registry:\n    command: [zk/bin/zkServer.sh, start-foreground]\n    ready: %s\nhosts:\n", probe)
	for i, a := range e.addrs {
		fmt.Fprintf(&b, "  h%d: {address: %q, services: [registry], install_path: %q}\n", i+1, a, filepath.Join(e.dir, fmt.Sprintf("h%d", i+1)))
	}
	var opts []string
	for _, o := range e.lab.SSHOptions() {
		opts = append(opts, strconv.Quote(o))
	}
	fmt.Fprintf(&b, "ssh:\n  options: [%s]\n", strings.Join(opts, ", "))
	for _, d := range []string{"", "h1", "h2", "h3"} {
		measure.Check(os.WriteFile(filepath.Join(e.dir, d, "daemonctl.yaml"), []byte(b.String()), 0o644))
	}
}

// waitJoined waits until every node serves (a leader and two followers),
// so that each case starts from a whole ensemble.
func (e *ensemble) waitJoined() {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		serving := 0
		for _, a := range e.addrs {
			if strings.Contains(srvr(a), "Mode: ") {
				serving++
			}
		}
		if serving == len(e.addrs) {
			return
		}
	}
	measure.Check(fmt.Errorf("the ensemble did not come back whole"))
}

func srvr(addr string) string {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(clientPort)), time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write([]byte("srvr"))
	var b bytes.Buffer
	b.ReadFrom(c)
	return b.String()
}

// underWrites runs restart while writer.py writes under phase, and
// returns the writer's figures.
func (e *ensemble) underWrites(writer, phase string, restart func()) map[string]int {
	var zk []string
	for _, a := range e.addrs {
		zk = append(zk, net.JoinHostPort(a, strconv.Itoa(clientPort)))
	}
	cmd := exec.Command("/usr/bin/python3", writer, phase)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "ZK="+strings.Join(zk, ","))
	var out bytes.Buffer
	cmd.Stdout = &out
	measure.Check(cmd.Start())
	for {
		if _, err := os.Stat(filepath.Join(e.dir, phase+".started")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	restart()
	measure.Check(os.WriteFile(filepath.Join(e.dir, phase+".stop"), nil, 0o644))
	measure.Check(cmd.Wait())
	stats := map[string]int{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			stats[k], _ = strconv.Atoi(v)
		}
	}
	return stats
}

func ms(d time.Duration) string { return measure.Ms(d, 0) }

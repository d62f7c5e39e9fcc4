package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// testserverMain is a small server whose behaviour each scenario picks by
// flags: it listens, drains slowly, ignores TERM, crashes, spawns children
// that stay in or leave its process group, and records its pid.
func testserverMain() {
	var (
		listen      = flag.String("listen", "", "accept TCP connections on this address")
		httpAddr    = flag.String("http", "", "serve HTTP 200 on this address")
		listenAfter = flag.Duration("listen-after", 0, "wait this long before listening")
		drain       = flag.Duration("drain", 0, "on SIGTERM, take this long to exit")
		ignoreTerm  = flag.Bool("ignore-term", false, "ignore SIGTERM")
		exitAfter   = flag.Duration("exit-after", -1, "exit after this long")
		code        = flag.Int("code", 0, "exit code for -exit-after")
		lines       = flag.Int("lines", 0, "print this many numbered lines at start")
		record      = flag.String("record", "", "append 'NAME start' at start and 'NAME stop' on SIGTERM to this file")
		name        = flag.String("name", "server", "name used by -record")
		recListen   = flag.Bool("record-listening", false, "with -record, also append 'NAME listening' once listening")
		pidFile     = flag.String("pidfile", "", "write the pid here")
		spawn       = flag.String("spawn", "", "run a child testserver with these space-separated flags")
		setsid      = flag.Bool("setsid", false, "with -spawn, put the child in a new session (leave the process group)")
		printEnv    = flag.String("print-env", "", "print these comma-separated variables")
		lineSize    = flag.Int("line-size", 0, "pad each -lines line to this many bytes")
		linesGate   = flag.String("lines-gate", "", "print 'waiting for gate', then write -lines once this file exists")
		tick        = flag.Duration("tick", 0, "print a numbered line this often")
		doubleFork  = flag.String("double-fork", "", "start a daemon the classic way (fork, setsid, fork, parent exits) that writes its pid here")
		forkMiddle  = flag.String("fork-middle", "", "internal: the middle process of -double-fork")
	)
	flag.Parse()
	if *forkMiddle != "" {
		grandchild := exec.Command(os.Args[0], "-pidfile", *forkMiddle, "-record", *record, "-name", *name)
		grandchild.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		grandchild.Start()
		os.Exit(0) // orphan the grandchild
	}
	if *pidFile != "" { // atomically: scenarios wait for the file to appear
		os.WriteFile(*pidFile+".tmp", []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644)
		os.Rename(*pidFile+".tmp", *pidFile)
	}
	if *record != "" {
		appendLine(*record, *name+" start")
	}
	for _, k := range strings.Split(*printEnv, ",") {
		if k != "" {
			fmt.Printf("%s=%s\n", k, os.Getenv(k))
		}
	}
	if *linesGate != "" {
		fmt.Println("waiting for gate")
		for {
			if _, err := os.Stat(*linesGate); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	for i := 1; i <= *lines; i++ {
		line := fmt.Sprintf("line %d ", i)
		if pad := *lineSize - len(line) - 1; pad > 0 {
			line += strings.Repeat("x", pad)
		}
		out.WriteString(line + "\n")
	}
	out.Flush()
	if *lines > 0 {
		fmt.Println("all lines written")
	}
	if *doubleFork != "" {
		middle := exec.Command(os.Args[0], "-fork-middle", *doubleFork, "-record", *record, "-name", *name+"-daemon")
		middle.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		middle.Run()
	}
	if *tick > 0 {
		go func() {
			for i := 1; ; i++ {
				time.Sleep(*tick)
				fmt.Printf("tick %d\n", i)
			}
		}()
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	if *spawn != "" {
		child := exec.Command(os.Args[0], strings.Fields(*spawn)...)
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		child.SysProcAttr = &syscall.SysProcAttr{Setsid: *setsid}
		if err := child.Start(); err != nil {
			fmt.Println("spawn:", err)
			os.Exit(1)
		}
	}
	time.Sleep(*listenAfter)
	if *listen != "" {
		serveTCP(*listen)
		if *record != "" && *recListen {
			appendLine(*record, *name+" listening")
		}
	}
	if *httpAddr != "" {
		serveHTTP(*httpAddr)
	}
	fmt.Println("ready")
	var exit <-chan time.Time
	if *exitAfter >= 0 {
		exit = time.After(*exitAfter)
	}
	select {
	case <-exit:
		fmt.Printf("exiting with %d\n", *code)
		os.Exit(*code)
	case <-sigs:
		if *record != "" {
			appendLine(*record, *name+" stop")
		}
		time.Sleep(*drain)
		fmt.Println("drained")
		os.Exit(0)
	}
}

func serveTCP(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func serveHTTP(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(line + "\n")
}

package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rogpeppe/go-internal/testscript"
)

// notifysock SOCKET FILE: listen on the unix datagram socket SOCKET, as
// systemd does for $NOTIFY_SOCKET, appending every notification received
// to FILE, until the scenario ends.
func cmdNotifySock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: notifysock SOCKET FILE")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ts.MkAbs(args[0]), Net: "unixgram"})
	ts.Check(err)
	out, err := os.OpenFile(ts.MkAbs(args[1]), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	ts.Check(err)
	ts.Defer(func() { conn.Close(); out.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			out.Write(buf[:n])
		}
	}()
}

// promparse FILE: FILE parses as Prometheus' text format, by Prometheus'
// own parser; the metric families found are printed.
func cmdPromParse(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: promparse FILE")
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(ts.ReadFile(args[0])))
	if (err == nil) == neg {
		ts.Fatalf("promparse %s: %v", args[0], err)
	}
	for name, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			fmt.Fprintf(ts.Stdout(), "%s{%s} %v\n", name, strings.Join(labels, ","), v)
		}
	}
}

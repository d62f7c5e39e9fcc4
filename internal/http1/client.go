// Package http1 speaks the little HTTP/1.1 daemonctl needs, without
// net/http: a GET that reports the status of the answer (the http
// readiness and liveness probes) and a server of a few fixed pages (the
// health endpoints of a foreground run).
//
// Linking net/http into the binary cost every command, a status as much
// as a start, about 0.6 ms of start-up on the machine of BENCHMARKS.md
// (its package initialisation, its interface tables and the pages of a
// binary 2 MB larger), for what is a few lines of protocol here. One
// request a connection, no redirects followed, no proxies: what a probe
// and an orchestrator's check want. TLS stays crypto/tls.
package http1

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// tlsConfig is the TLS configuration of https requests; nil verifies the
// server against the system's roots, as a browser would. Tests set it.
var tlsConfig *tls.Config

// maxStatusLine bounds the first line of an answer.
const maxStatusLine = 4 << 10

// Status GETs rawURL (http or https) and returns the answer's status
// code and its whole status, e.g. 503 and "503 Service Unavailable". The
// body is not read. ctx bounds the whole exchange.
func Status(ctx context.Context, rawURL string) (int, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return 0, "", fmt.Errorf("get %q: want an http or https URL", rawURL)
	}
	conn, err := dial(ctx, u)
	if err != nil {
		return 0, "", fmt.Errorf("get %q: %w", rawURL, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := conn.Write([]byte(request(u))); err != nil {
		return 0, "", fmt.Errorf("get %q: %w", rawURL, ctxErr(ctx, err))
	}
	code, status, err := readStatus(bufio.NewReaderSize(conn, maxStatusLine))
	if err != nil {
		return 0, "", fmt.Errorf("get %q: %w", rawURL, ctxErr(ctx, err))
	}
	return code, status, nil
}

// dial connects to u's host, with TLS for https.
func dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "http" {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	cfg := tlsConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName = u.Hostname()
	d := tls.Dialer{Config: cfg}
	return d.DialContext(ctx, "tcp", addr)
}

// request is a GET of u that asks the server to close the connection
// after its answer, with u's user and password, if any, as basic
// authorisation.
func request(u *url.URL) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: daemonctl\r\nAccept: */*\r\nConnection: close\r\n", u.RequestURI(), u.Host)
	if u.User != nil {
		password, _ := u.User.Password()
		credentials := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + password))
		fmt.Fprintf(&b, "Authorization: Basic %s\r\n", credentials)
	}
	b.WriteString("\r\n")
	return b.String()
}

// readStatus reads an answer's status line: "HTTP/1.1 200 OK".
func readStatus(r *bufio.Reader) (int, string, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return 0, "", errors.New("malformed answer: status line too long")
	}
	if err != nil {
		return 0, "", err
	}
	proto, status, ok := strings.Cut(strings.TrimRight(string(line), "\r\n"), " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return 0, "", fmt.Errorf("malformed answer: %q", line)
	}
	codeText, _, _ := strings.Cut(status, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil || len(codeText) != 3 {
		return 0, "", fmt.Errorf("malformed answer: %q", line)
	}
	return code, status, nil
}

// ctxErr says that ctx ended the exchange, when it did: the connection
// was closed under it, or its deadline, which is ctx's, passed (perhaps a
// moment before ctx's own timer says so).
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if deadline, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return err
}

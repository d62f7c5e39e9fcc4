package http1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// A Page answers a GET of its path: the status code, the content type
// (text/plain when empty) and the body.
type Page func() (code int, contentType string, body []byte)

// headerTimeout bounds how long a client may take to send its request.
const headerTimeout = 5 * time.Second

// maxRequest bounds a request's line and headers.
const maxRequest = 64 << 10

// Serve answers GET and HEAD requests on ln with pages, by path (the
// query is ignored), one request a connection, until ctx ends; then it
// closes ln, and returns once it is closed. Other paths are answered
// 404, other methods 405.
func Serve(ctx context.Context, ln net.Listener, pages map[string]Page) {
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		close(closed)
	})
	defer func() {
		// Accept fails as soon as Close has begun, and the socket may
		// still be listening until Close returns: a caller rebinding the
		// port, or a client, would find it open.
		if !stop() {
			<-closed
		}
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors, say
			continue
		}
		go answer(conn, pages)
	}
}

// answer reads one request from conn and answers it.
func answer(conn net.Conn, pages map[string]Page) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(headerTimeout))
	method, target, err := readRequest(bufio.NewReader(io.LimitReader(conn, maxRequest)))
	if err != nil {
		reply(conn, "GET", 400, "", []byte(err.Error()+"\n"))
		return
	}
	path, _, _ := strings.Cut(target, "?")
	page := pages[path]
	switch {
	case page == nil:
		reply(conn, method, 404, "", []byte("404 page not found\n"))
	case method != "GET" && method != "HEAD":
		reply(conn, "GET", 405, "", []byte("method not allowed: use GET\n"))
	default:
		code, contentType, body := page()
		reply(conn, method, code, contentType, body)
	}
}

// readRequest reads a request line and its headers, which are skipped.
func readRequest(r *bufio.Reader) (method, target string, err error) {
	tp := textproto.NewReader(r)
	line, err := tp.ReadLine()
	if err != nil {
		return "", "", fmt.Errorf("bad request: %w", err)
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !strings.HasPrefix(proto, "HTTP/1.") || !strings.HasPrefix(target, "/") {
		return "", "", fmt.Errorf("bad request line %q", line)
	}
	for {
		header, err := tp.ReadLine()
		if err != nil {
			return "", "", fmt.Errorf("bad request: %w", err)
		}
		if header == "" {
			return method, target, nil
		}
	}
}

// reply writes a whole answer and asks the client to close.
func reply(w io.Writer, method string, code int, contentType string, body []byte) {
	if contentType == "" {
		contentType = "text/plain; charset=utf-8"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n", code, reason(code), contentType, len(body))
	if code == 405 {
		b.WriteString("Allow: GET, HEAD\r\n")
	}
	b.WriteString("\r\n")
	if method != "HEAD" {
		b.Write(body)
	}
	w.Write(b.Bytes())
}

// reason is the reason phrase of the codes the pages answer with.
func reason(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	}
	return "Status"
}

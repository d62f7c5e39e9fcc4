package http1

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStatusReportsTheAnswersStatus(t *testing.T) {
	var got *http.Request
	code := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		if code == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", code)
			return
		}
		w.WriteHeader(code)
		io.WriteString(w, strings.Repeat("body ", 1000))
	}))
	defer srv.Close()
	for _, want := range []struct {
		code   int
		status string
	}{{503, "503 Service Unavailable"}, {204, "204 No Content"}, {302, "302 Found"}, {200, "200 OK"}} {
		code = want.code
		gotCode, status, err := Status(context.Background(), srv.URL+"/actuator/health?probe=1")
		if err != nil || gotCode != want.code || status != want.status {
			t.Errorf("answered %d: got %d %q %v, want %q", want.code, gotCode, status, err, want.status)
		}
	}
	if got.Method != "GET" || got.URL.RequestURI() != "/actuator/health?probe=1" || got.Host != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("request: %s %s, host %s", got.Method, got.URL.RequestURI(), got.Host)
	}
}

func TestStatusSendsTheURLsUserAsBasicAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, password, ok := r.BasicAuth(); !ok || user != "probe" || password != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://probe:s3cret@", 1)
	if code, status, err := Status(context.Background(), url); err != nil || code != 200 {
		t.Fatalf("with the URL's user: %s %v", status, err)
	}
}

func TestStatusOverTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	if _, _, err := Status(context.Background(), srv.URL); err == nil {
		t.Fatal("a certificate no root vouches for was accepted")
	}
	tlsConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	defer func() { tlsConfig = nil }()
	if code, status, err := Status(context.Background(), srv.URL); err != nil || code != 200 {
		t.Fatalf("https: %s %v", status, err)
	}
}

func TestStatusEndsWithItsContext(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {}) // accepted, never answered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := Status(ctx, "http://"+addr+"/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a server that never answers: %v, want the deadline", err)
	}
}

func TestStatusRefusesWhatIsNotHTTP(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) { io.WriteString(c, "-ERR unknown command 'GET'\r\n") })
	if _, _, err := Status(context.Background(), "http://"+addr+"/"); err == nil || !strings.Contains(err.Error(), "malformed answer") {
		t.Fatalf("a redis answer: %v", err)
	}
	if _, _, err := Status(context.Background(), "ftp://"+addr+"/"); err == nil {
		t.Fatal("an ftp URL was fetched")
	}
}

// tcpServer listens on a loopback port until the test ends, handing each
// connection to handle; a connection is closed at the test's end.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			handle(c)
		}
	}()
	return ln.Addr().String()
}

func TestServeAnswersItsPages(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		Serve(ctx, ln, map[string]Page{
			"/healthz": func() (int, string, []byte) { return 200, "", []byte("ok\n") },
			"/readyz":  func() (int, string, []byte) { return 503, "", []byte("web starting\n") },
			"/metrics": func() (int, string, []byte) { return 200, "text/plain; version=0.0.4", []byte("up 1\n") },
		})
		close(served)
	}()
	base := "http://" + ln.Addr().String()
	for _, c := range []struct {
		method, path string
		code         int
		contentType  string
		body         string
	}{
		{"GET", "/healthz", 200, "text/plain; charset=utf-8", "ok\n"},
		{"GET", "/readyz?verbose=1", 503, "text/plain; charset=utf-8", "web starting\n"},
		{"GET", "/metrics", 200, "text/plain; version=0.0.4", "up 1\n"},
		{"HEAD", "/healthz", 200, "text/plain; charset=utf-8", ""},
		{"GET", "/nosuch", 404, "text/plain; charset=utf-8", "404 page not found\n"},
		{"POST", "/healthz", 405, "text/plain; charset=utf-8", "method not allowed: use GET\n"},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != c.contentType || string(body) != c.body {
			t.Errorf("%s %s: %d %q %q, want %d %q %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.code, c.contentType, c.body)
		}
	}
	// What the probes send is answered too.
	if code, _, err := Status(context.Background(), base+"/healthz"); err != nil || code != 200 {
		t.Fatalf("Status of its own server: %d %v", code, err)
	}
	cancel()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not end with its context")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the listener is still open after Serve ended")
	}
}

func TestServeRefusesABadRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, ln, map[string]Page{"/healthz": func() (int, string, []byte) { return 200, "", nil }})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "HELLO\r\n\r\n")
	answer, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(answer), "HTTP/1.1 400 Bad Request\r\n") {
		t.Fatalf("answer to a bad request: %q", answer)
	}
}

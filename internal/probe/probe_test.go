package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/reaper"
)

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := TCP{Addr: ln.Addr().String()}
	if err := p.Check(context.Background()); err != nil {
		t.Fatalf("a listening port: %v", err)
	}
	ln.Close()
	if err := p.Check(context.Background()); err == nil {
		t.Fatal("a closed port passed")
	}
}

func TestHTTP(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	p := HTTP{URL: srv.URL + "/actuator/health"}
	if err := p.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a 503: %v", err)
	}
	status = http.StatusNoContent
	if err := p.Check(context.Background()); err != nil {
		t.Fatalf("a 204: %v", err)
	}
	status = http.StatusFound // a redirect is not followed: not ready
	if err := p.Check(context.Background()); err == nil {
		t.Fatal("a 302 passed")
	}
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644)
	pass := Exec{Argv: []string{"sh", "-c", `test -f marker && test "$ZK" = up`}, Dir: dir, Env: []string{"PATH=" + os.Getenv("PATH"), "ZK=up"}}
	if err := pass.Check(context.Background()); err != nil {
		t.Fatalf("exec in its dir with its env: %v", err)
	}
	fail := Exec{Argv: []string{"sh", "-c", "echo first; echo 'not serving yet' >&2; exit 3"}}
	err := fail.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not serving yet") || strings.Contains(err.Error(), "first") {
		t.Fatalf("a failing exec probe: %v; want its last line of output", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := (Exec{Argv: []string{"sleep", "30"}}).Check(ctx); err == nil {
		t.Fatal("a probe past its time passed")
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("a hung exec probe held its check for %s", took)
	}
}

func TestLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.out")
	os.WriteFile(path, []byte("old: Started\n"), 0o644)
	fi, _ := os.Stat(path)
	p := &Log{File: path, Pattern: regexp.MustCompile(`Started`), Offset: fi.Size()}
	if err := p.Check(context.Background()); err == nil {
		t.Fatal("a line from before this start passed")
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	defer f.Close()
	f.WriteString("booting\nStar")
	if err := p.Check(context.Background()); err == nil {
		t.Fatal("half a line passed")
	}
	f.WriteString("ted in 3s\n")
	if err := p.Check(context.Background()); err != nil {
		t.Fatalf("a line completed across two checks: %v", err)
	}
	// Rotated or truncated: read from the start again.
	os.WriteFile(path, []byte("Started\n"), 0o644)
	p2 := &Log{File: path, Pattern: regexp.MustCompile(`^Started$`), Offset: 1 << 20}
	if err := p2.Check(context.Background()); err != nil {
		t.Fatalf("after truncation: %v", err)
	}
}

// failing passes once n checks have failed.
type failing struct{ n, calls int }

func (f *failing) Check(context.Context) error {
	f.calls++
	if f.calls <= f.n {
		return errors.New("connection refused")
	}
	return nil
}
func (f *failing) String() string { return "fake" }

func TestWait(t *testing.T) {
	if err := Wait(context.Background(), &failing{n: 3}, 5*time.Second, nil); err != nil {
		t.Fatalf("a probe that passes on its fourth check: %v", err)
	}
	err := Wait(context.Background(), &failing{n: 1 << 30}, 100*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "not ready after 100ms: fake: connection refused") {
		t.Fatalf("a timeout: %v", err)
	}
	died := make(chan struct{})
	close(died)
	if err := Wait(context.Background(), &failing{n: 1 << 30}, time.Minute, died); !errors.Is(err, ErrDied) {
		t.Fatalf("a server that died: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, &failing{n: 1 << 30}, time.Minute, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
}

func TestFor(t *testing.T) {
	target := Target{Dir: "/srv", LogFile: "/srv/out", LogOffset: 7}
	for _, r := range []*config.Ready{
		{TCP: "127.0.0.1:1"},
		{HTTP: "http://127.0.0.1:1/"},
		{Exec: []string{"true"}},
		{Log: "up", LogPattern: regexp.MustCompile("up")},
	} {
		p := For(r, target)
		if !strings.HasPrefix(p.String(), r.Kind()+" ") {
			t.Errorf("For(%s) = %s", r.Kind(), p)
		}
	}
	if p := For(&config.Ready{Log: "up", LogPattern: regexp.MustCompile("up")}, target).(*Log); p.File != "/srv/out" || p.Offset != 7 {
		t.Errorf("log probe reads %s from %d", p.File, p.Offset)
	}
}

// Exec probes run by a supervisor share its reaper: 1,000 of them, while
// plain os/exec commands run beside them, lose no exit to it.
func TestExecProbesBesideTheReaper(t *testing.T) {
	r, err := reaper.Start()
	if err != nil {
		t.Fatal(err)
	}
	n := 1000
	if testing.Short() {
		n = 100
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	wg.Go(func() {
		p := Exec{Argv: []string{"true"}, Env: []string{"PATH=" + os.Getenv("PATH")}, Reaper: r}
		for range n {
			if err := p.Check(context.Background()); err != nil {
				errs <- fmt.Errorf("exec probe: %w", err)
			}
		}
	})
	wg.Go(func() {
		for range n {
			if err := exec.Command("true").Run(); err != nil {
				errs <- fmt.Errorf("os/exec: %w", err)
			}
		}
	})
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed == 0 {
			t.Error(err)
		}
		failed++
	}
	if failed > 0 {
		t.Fatalf("%d of %d commands lost their exit", failed, 2*n)
	}
}

// A tcp probe with expect passes only on an answer that matches: a
// ZooKeeper still looking for its quorum answers srvr, but not with a
// Mode a client can use.
func TestTCPExpect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mode atomic.Value
	mode.Store("This ZooKeeper instance is not currently serving requests\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 5)
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "srvr\n" {
					return
				}
				io.WriteString(c, "Zookeeper version: 3.9\n"+mode.Load().(string))
			}()
		}
	}()
	r := &config.Ready{TCP: ln.Addr().String(), Send: `srvr\n`, ExpectPattern: regexp.MustCompile(`Mode: (leader|follower)`)}
	p := For(r, Target{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = p.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), `"Zookeeper version: 3.9" does not match`) {
		t.Fatalf("a server without quorum: %v; want its answer named", err)
	}
	mode.Store("Mode: follower\n")
	if err := p.Check(ctx); err != nil {
		t.Fatalf("a follower: %v", err)
	}
	if got := p.String(); got != `tcp `+r.TCP+` expect "Mode: (leader|follower)"` {
		t.Errorf("String() = %s", got)
	}
}

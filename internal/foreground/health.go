package foreground

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/daemonctl/daemonctl/internal/lifecycle"
	"github.com/daemonctl/daemonctl/internal/metrics"
	"github.com/daemonctl/daemonctl/internal/state"
)

// serveHealth serves, on addr, what an orchestrator asks a run:
// /healthz 200 while the run supervises (its process answers), /readyz
// 200 when every service of the run is running and ready (503 with the
// states otherwise), /metrics the services' metrics. It returns once the
// listener is up; the server ends with ctx.
func serveHealth(ctx context.Context, addr string, m *lifecycle.Manager, names []string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("health address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		statuses, err := m.Status(names)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		code := http.StatusOK
		for _, s := range statuses {
			if s.State != state.Running || !s.Ready {
				code = http.StatusServiceUnavailable
			}
		}
		w.WriteHeader(code)
		for _, s := range statuses {
			fmt.Fprintf(w, "%s %s\n", s.Name, s.State)
		}
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		statuses, err := m.Status(names)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		metrics.Write(w, statuses)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			ln.Close()
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return nil
}

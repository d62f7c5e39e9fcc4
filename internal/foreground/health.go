package foreground

import (
	"bytes"
	"context"
	"fmt"
	"net"

	"github.com/daemonctl/daemonctl/internal/http1"
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
	go http1.Serve(ctx, ln, map[string]http1.Page{
		"/healthz": func() (int, string, []byte) { return 200, "", []byte("ok\n") },
		"/readyz":  func() (int, string, []byte) { return readyz(m, names) },
		"/metrics": func() (int, string, []byte) { return metricsPage(m, names) },
	})
	return nil
}

// readyz is 200 when every service is running and ready, 503 otherwise,
// with each service's state.
func readyz(m *lifecycle.Manager, names []string) (int, string, []byte) {
	statuses, err := m.Status(names)
	if err != nil {
		return 503, "", []byte(err.Error() + "\n")
	}
	code := 200
	var body bytes.Buffer
	for _, s := range statuses {
		if s.State != state.Running || !s.Ready {
			code = 503
		}
		fmt.Fprintf(&body, "%s %s\n", s.Name, s.State)
	}
	return code, "", body.Bytes()
}

// metricsPage is the services' metrics in Prometheus' text format.
func metricsPage(m *lifecycle.Manager, names []string) (int, string, []byte) {
	statuses, err := m.Status(names)
	if err != nil {
		return 500, "", []byte(err.Error() + "\n")
	}
	var body bytes.Buffer
	if err := metrics.Write(&body, statuses); err != nil {
		return 500, "", []byte(err.Error() + "\n")
	}
	return 200, "text/plain; version=0.0.4; charset=utf-8", body.Bytes()
}

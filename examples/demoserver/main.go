// Command demoserver is the small HTTP server the example config runs:
// it optionally waits before listening (a slow start), checks that the
// server it depends on answers, serves /health, and drains on SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var (
		listen   = flag.String("listen", "127.0.0.1:8080", "address to serve on")
		upstream = flag.String("upstream", "", "URL that must answer before this server starts")
		warmup   = flag.Duration("warmup", 0, "wait this long before listening")
		drain    = flag.Duration("drain", 100*time.Millisecond, "time to finish requests on SIGTERM")
	)
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	name := os.Getenv("DAEMONCTL_SERVICE")
	if *upstream != "" {
		resp, err := http.Get(*upstream)
		if err != nil {
			log.Fatalf("%s: upstream %s: %v", name, *upstream, err)
		}
		resp.Body.Close()
		log.Printf("%s: upstream %s answered %s", name, *upstream, resp.Status)
	}
	time.Sleep(*warmup)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "{\"service\":%q,\"status\":\"UP\",\"region\":%q}\n", name, os.Getenv("REGION"))
	})
	srv := &http.Server{Addr: *listen, Handler: mux}
	go func() {
		log.Printf("%s: listening on %s (REGION=%s)", name, *listen, os.Getenv("REGION"))
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	log.Printf("%s: draining for %s", name, *drain)
	shutdown, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	srv.Shutdown(shutdown)
	time.Sleep(time.Until(deadline(shutdown)))
	log.Printf("%s: stopped", name)
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

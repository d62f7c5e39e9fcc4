// Command daemonctl starts, stops, watches and restarts the servers of a
// multi-component distributed system. See README.md.
package main

import (
	"os"
	"runtime"

	"github.com/daemonctl/daemonctl/internal/cli"
	_ "github.com/daemonctl/daemonctl/internal/pagein" // first: see its doc
)

func main() {
	// No heap profiling: its bucket table would cost each long-lived
	// monitor about a megabyte.
	runtime.MemProfileRate = 0
	os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()}))
}

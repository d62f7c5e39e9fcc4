// Command daemonctl starts, stops, watches and restarts the servers of a
// multi-component distributed system. See README.md.
package main

import (
	"os"

	"github.com/daemonctl/daemonctl/internal/cli"
	_ "github.com/daemonctl/daemonctl/internal/pagein" // first: see its doc; it also turns heap profiling off
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()}))
}

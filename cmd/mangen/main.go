// Command mangen writes daemonctl's man pages (daemonctl.1,
// daemonctl-start.1, ...) into a directory, generated from its commands:
//
//	go run ./cmd/mangen man/
//
// It is apart from daemonctl itself so that daemonctl does not carry the
// Markdown and roff renderers it needs.
package main

import (
	"fmt"
	"os"

	"github.com/daemonctl/daemonctl/internal/manpage"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	if err := manpage.Write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}

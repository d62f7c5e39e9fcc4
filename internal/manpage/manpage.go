// Package manpage renders daemonctl's man pages from its command tree
// (cobra/doc). It is its own package so that daemonctl's binary does not
// link the renderers: only cmd/mangen and the tests import it.
package manpage

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/daemonctl/daemonctl/internal/cli"
)

// Write writes a man page for every daemonctl command into dir, which is
// created if need be.
func Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root := cli.NewRoot(&cli.Factory{IO: cli.IO{Out: os.Stdout, Err: os.Stderr}})
	root.DisableAutoGenTag = true // pages do not change with the day they were made
	header := &doc.GenManHeader{Title: "DAEMONCTL", Section: "1", Source: "daemonctl", Manual: "daemonctl manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	return nil
}

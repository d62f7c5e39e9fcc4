package pagein_test

import (
	"runtime"
	"testing"

	_ "github.com/daemonctl/daemonctl/internal/pagein"
)

// rateAtImport is the heap profiling rate as a package that imports
// pagein initialises: after pagein's init.
var rateAtImport = runtime.MemProfileRate

func TestHeapProfilingIsOffBeforeImportersInitialise(t *testing.T) {
	if rateAtImport != 0 {
		t.Fatalf("runtime.MemProfileRate = %d when an importer of pagein initialises, want 0", rateAtImport)
	}
}

// Package stripe shares the iterations of a loop among goroutines: one
// per CPU at most, and one more only for every share iterations, each
// taking every workers-th index. The loops it serves (reading /proc and
// run_dir for many processes or services) mostly wait on the kernel, so
// a second CPU halves them; a short loop is not worth a goroutine.
package stripe

import (
	"iter"
	"runtime"
	"sync"
)

// Do calls work once for each goroutine, with the indexes of 0..n-1 that
// goroutine is to handle, and returns when all have. What work keeps
// from one index to the next (a cache) is its goroutine's own. When one
// goroutine is worth it, work runs on the caller's.
func Do(n, share int, work func(indexes iter.Seq[int])) {
	workers := min(runtime.GOMAXPROCS(0), 1+n/share)
	stripe := func(first int) iter.Seq[int] {
		return func(yield func(int) bool) {
			for i := first; i < n; i += workers {
				if !yield(i) {
					return
				}
			}
		}
	}
	if workers == 1 {
		work(stripe(0))
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { work(stripe(w)) })
	}
	wg.Wait()
}

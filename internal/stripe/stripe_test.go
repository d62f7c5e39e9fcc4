package stripe

import (
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestDoVisitsEachIndexOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, tc := range []struct{ n, share, goroutines int }{
		{0, 16, 1}, {1, 16, 1}, {15, 16, 1}, {16, 16, 2}, {100, 16, 4}, {1000, 64, 4},
	} {
		visits := make([]atomic.Int32, tc.n)
		var mu sync.Mutex
		calls := 0
		Do(tc.n, tc.share, func(indexes iter.Seq[int]) {
			mu.Lock()
			calls++
			mu.Unlock()
			for i := range indexes {
				visits[i].Add(1)
			}
		})
		if calls != tc.goroutines {
			t.Errorf("n=%d share=%d: %d goroutines' worth, want %d", tc.n, tc.share, calls, tc.goroutines)
		}
		for i := range visits {
			if v := visits[i].Load(); v != 1 {
				t.Errorf("n=%d share=%d: index %d visited %d times", tc.n, tc.share, i, v)
			}
		}
	}
}

package pagein

// madvise is madvise(2), returning the raw result (-errno on failure).
//
//go:noescape
func madvise(addr, n, advice uintptr) uintptr

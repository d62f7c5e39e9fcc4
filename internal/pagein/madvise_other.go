//go:build !(linux && amd64)

package pagein

func madvise(addr, n, advice uintptr) uintptr { return 0 }

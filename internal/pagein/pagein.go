// Package pagein maps the pages a short daemonctl command will touch in
// a few system calls at start-up, before the other packages initialise,
// instead of a page fault at a time.
//
// A command such as status spends much of its life taking page faults:
// the runtime and every package's init touch scattered pages of a 14 MB
// binary, of its variables and of a fresh heap, and the kernel maps them
// one fault at a time. On the virtual machine of BENCHMARKS.md a fault costs 13 µs on
// anonymous memory and 35 µs on the binary (most of it the trap, not
// the mapping), while madvise(MADV_POPULATE_READ) maps all 9 MB of code
// and read-only data, already in the page cache, in about 1 ms, and
// MADV_POPULATE_WRITE maps the heap ahead (heapAhead) in a few tenths
// of a millisecond: 570 faults of a status became 250.
//
// The long-lived modes (the supervisor, a foreground run) are left out:
// every page mapped ahead would stay theirs for their whole life, where
// a short command gives it back when it exits. Their start-up pays the
// faults, once. So is the helper that sets a service's user and limits
// and then executes it: it would map for nothing.
//
// It also turns heap profiling off, in every mode, before the other
// packages allocate: left on, the runtime records the call stack of one
// allocation in every 512 kB, and in a fresh process walking a stack
// means reading the binary's tables and page faults. That was 0.6–0.8 ms
// of a status (BENCHMARKS.md). daemonctl offers no heap profile, and a
// long-lived monitor spares the profile's bucket table, about a
// megabyte.
//
// The package imports nothing but runtime and unsafe, so that the
// linker's init order (the first ready package by import path) runs it
// before nearly every other package.
package pagein

import (
	"runtime"
	"unsafe"
)

const (
	madvPopulateRead  = 22 // Linux 5.14
	madvPopulateWrite = 23

	atPHDR  = 3 // auxiliary vector keys, getauxval(3)
	atPHENT = 4
	atPHNUM = 5

	ptLOAD = 1 // ELF program header types and flags
	ptPHDR = 6
	pfW    = 2

	pageSize = 4096

	// heapAhead is how much heap is mapped ahead. A status of 100
	// services touches about 2 MB, but mapping that much made a status
	// of one service and a stop about 1 ms slower than 1 MB, and the
	// status of 100 no faster (BENCHMARKS.md, sixth session). The heap
	// grows up from its start, and chunkBytes is the runtime's unit of
	// mapping it (pallocChunkBytes), past which nothing is mapped yet.
	heapAhead  = 1 << 20
	chunkBytes = 4 << 20

	// bssAhead is how much of the binary's zero-filled data is mapped:
	// a status touches pages up to 210 kB into it.
	bssAhead = 256 << 10
)

// Skipped names the command-line words of the modes that map nothing
// ahead: the supervisor, a foreground run, and the exec helper. The cli
// package's tests hold it to the commands' names.
var Skipped = []string{"run", "__supervisor", "__exec"}

// programHeader is an ELF64 program header as the kernel left it in
// memory (AT_PHDR).
type programHeader struct {
	typ, flags           uint32
	offset, vaddr, paddr uint64
	filesz, memsz, align uint64
}

//go:linkname getAuxv runtime.getAuxv
func getAuxv() []uintptr

// runtimeArgs is os.Args before package os has set it: the runtime
// holds the arguments from its start and hands package os this copy.
//
//go:linkname runtimeArgs os.runtime_args
func runtimeArgs() []string

// heapMark is allocated to learn where the heap is.
var heapMark *[16]byte

func init() {
	runtime.MemProfileRate = 0
	for _, arg := range runtimeArgs() {
		for _, mode := range Skipped {
			if arg == mode {
				return
			}
		}
	}
	populateBinary()
	populateHeap()
}

// populateBinary maps each loaded segment of the binary: its code and
// read-only data whole, and its writable data (copied on write) with
// the first bssAhead bytes of the zero-filled part that follows, where
// the runtime's and the packages' variables are; past that lie the
// runtime's large, sparsely used tables. Errors are ignored: a kernel
// older than 5.14 does not know MADV_POPULATE_*, and the command then
// pays its faults as before.
func populateBinary() {
	headers, bias := programHeaders()
	for _, ph := range headers {
		if ph.typ != ptLOAD {
			continue
		}
		size, advice := ph.memsz, uintptr(madvPopulateRead)
		if ph.flags&pfW != 0 {
			size, advice = min(ph.memsz, ph.filesz+bssAhead), madvPopulateWrite
		}
		start := (ph.vaddr + bias) &^ (pageSize - 1)
		end := (ph.vaddr + bias + size + pageSize - 1) &^ (pageSize - 1)
		madvise(uintptr(start), uintptr(end-start), advice)
	}
}

// populateHeap maps heapAhead bytes of heap from the page of a new
// allocation on, within the chunk the runtime has mapped.
func populateHeap() {
	heapMark = new([16]byte)
	start := uintptr(unsafe.Pointer(heapMark)) &^ (pageSize - 1)
	end := min(start+heapAhead, (start+chunkBytes)&^(chunkBytes-1))
	madvise(start, end-start, madvPopulateWrite)
}

// programHeaders returns the binary's program headers, which the kernel
// mapped and named in the auxiliary vector, and the load bias to add to
// their addresses (zero unless the binary is position-independent).
func programHeaders() ([]programHeader, uint64) {
	var phdr unsafe.Pointer
	var phent, phnum uintptr
	auxv := getAuxv()
	for i := 0; i+1 < len(auxv); i += 2 {
		switch auxv[i] {
		case atPHDR:
			phdr = *(*unsafe.Pointer)(unsafe.Pointer(&auxv[i+1]))
		case atPHENT:
			phent = auxv[i+1]
		case atPHNUM:
			phnum = auxv[i+1]
		}
	}
	if phdr == nil || phent != unsafe.Sizeof(programHeader{}) || phnum == 0 || phnum > 64 {
		return nil, 0
	}
	headers := unsafe.Slice((*programHeader)(phdr), phnum)
	for _, ph := range headers {
		if ph.typ == ptPHDR {
			return headers, uint64(uintptr(phdr)) - ph.vaddr
		}
	}
	return headers, 0
}

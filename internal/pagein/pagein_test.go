package pagein

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// mapping returns the size and the resident size, in kB, of this
// binary's mapping with perms (r-xp: its code; rw-p: its variables),
// from /proc/self/smaps.
func mapping(t *testing.T, perms string) (size, rss int) {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 6 && strings.Contains(fields[0], "-"):
			in = fields[1] == perms && fields[5] == exe
		case in && fields[0] == "Size:":
			size, _ = strconv.Atoi(fields[1])
		case in && fields[0] == "Rss:":
			rss, _ = strconv.Atoi(fields[1])
			return size, rss
		}
	}
	t.Fatalf("no %s mapping of %s in /proc/self/smaps", perms, exe)
	return 0, 0
}

func TestTheCodeIsMappedAtStart(t *testing.T) {
	size, rss := mapping(t, "r-xp")
	if rss != size {
		t.Errorf("%d kB of the %d kB of code resident; want all of it", rss, size)
	}
}

// The variables' file part is all touched by the test binary's own
// start; the zero-filled part after it is not, but for pagein.
func TestTheVariablesAreMappedAtStart(t *testing.T) {
	headers, bias := programHeaders()
	for _, ph := range headers {
		if ph.typ != ptLOAD || ph.flags&pfW == 0 {
			continue
		}
		start := (ph.vaddr + bias + ph.filesz + pageSize - 1) &^ (pageSize - 1)
		end := (ph.vaddr + bias + min(ph.memsz, ph.filesz+bssAhead)) &^ (pageSize - 1)
		if n := missing(t, uintptr(start), uintptr(end)); n > 0 {
			t.Errorf("%d of the %d pages of zero-filled variables are not mapped", n, (end-start)/pageSize)
		}
		return
	}
	t.Fatal("no writable segment in the program headers")
}

// present reports whether the page holding addr is mapped, from
// /proc/self/pagemap (bit 63; readable without privilege).
func present(t *testing.T, addr uintptr) bool {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var entry [8]byte
	if _, err := f.ReadAt(entry[:], int64(addr/pageSize*8)); err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(entry[:])&(1<<63) != 0
}

// missing counts the pages in [start, end) not mapped.
func missing(t *testing.T, start, end uintptr) int {
	n := 0
	for p := start; p < end; p += pageSize {
		if !present(t, p) {
			n++
		}
	}
	return n
}

func TestTheHeapAheadIsMapped(t *testing.T) {
	if heapMark == nil {
		t.Fatal("no heap mark: the heap was not mapped ahead")
	}
	// The heap starts at a random page of its first chunk, so how much
	// the runtime has mapped past the mark varies from run to run.
	start := uintptr(unsafe.Pointer(heapMark)) &^ (pageSize - 1)
	end := min(start+heapAhead, (start+chunkBytes)&^(chunkBytes-1))
	if missing := missing(t, start, end); missing > 0 {
		t.Errorf("%d of the %d heap pages ahead of the mark are not mapped", missing, (end-start)/pageSize)
	}
}

// TestSkippedModesMapNothingAhead runs this test binary again with a
// skipped mode's word among its arguments.
func TestSkippedModesMapNothingAhead(t *testing.T) {
	if os.Getenv("PAGEIN_CHILD") != "" {
		size, rss := mapping(t, "r-xp")
		fmt.Printf("resident %d of %d\n", rss, size)
		return
	}
	for _, mode := range Skipped {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkippedModesMapNothingAhead$", mode)
		cmd.Env = append(os.Environ(), "PAGEIN_CHILD=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v: %s", mode, err, out)
		}
		var rss, size int
		if _, err := fmt.Sscanf(string(out), "resident %d of %d", &rss, &size); err != nil {
			t.Fatalf("%s: %q: %v", mode, out, err)
		}
		if rss == size {
			t.Errorf("with %q in its arguments, all %d kB of code were mapped at start", mode, size)
		}
	}
}

// Command faultbench measures what a page fault costs on this machine
// beside mapping the same pages with one madvise(MADV_POPULATE_*) call:
// the figures behind internal/pagein. It maps fresh anonymous memory and
// the daemonctl binary (already in the page cache), touches one byte a
// page (anonymous) or one a 64 KiB fault-around window (the file), and
// populates a second mapping of each in one call.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/bench/internal/measure"
)

const page = 4096

var (
	daemonctl = flag.String("daemonctl", "bin/daemonctl", "a large file in the page cache: the daemonctl binary")
	pages     = flag.Int("pages", 1024, "anonymous pages to map each way")
)

func main() {
	flag.Parse()
	fmt.Println("| mapping | pages | one fault a page (or window) | one madvise for all |")
	fmt.Println("|---|---|---|---|")
	anonTouch := perPage(*pages, touchAnon(*pages))
	anonPopulate := perPage(*pages, populate(anonMap(*pages), unix.MADV_POPULATE_WRITE))
	fmt.Printf("| anonymous (heap) | %d | %s a fault | %s a page |\n", *pages, anonTouch, anonPopulate)

	f, err := os.Open(*daemonctl)
	measure.Check(err)
	defer f.Close()
	st, err := f.Stat()
	measure.Check(err)
	size := int(st.Size()) &^ (page - 1)
	os.ReadFile(*daemonctl) // into the page cache, as an installed binary is
	fileTouch := perPage(size/(16*page), touchFile(f, size))
	filePopulate := perPage(size/page, populate(fileMap(f, size), unix.MADV_POPULATE_READ))
	fmt.Printf("| the binary (page cache) | %d | %s a fault (64 KiB each) | %s a page |\n", size/page, fileTouch, filePopulate)
}

func perPage(n int, d time.Duration) string {
	return fmt.Sprintf("%.2f µs", float64(d.Nanoseconds())/float64(n)/1000)
}

func anonMap(n int) []byte {
	b, err := unix.Mmap(-1, 0, n*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	measure.Check(err)
	return b
}

func fileMap(f *os.File, size int) []byte {
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_PRIVATE)
	measure.Check(err)
	return b
}

func touchAnon(n int) time.Duration {
	b := anonMap(n)
	began := time.Now()
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
	return time.Since(began)
}

var sink byte

func touchFile(f *os.File, size int) time.Duration {
	b := fileMap(f, size)
	began := time.Now()
	for i := 0; i < len(b); i += 16 * page {
		sink += b[i]
	}
	return time.Since(began)
}

func populate(b []byte, advice int) time.Duration {
	began := time.Now()
	measure.Check(unix.Madvise(b, advice))
	return time.Since(began)
}

package logs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRotatorKeepsEveryLineWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "srv-host1.out")
	r := &Rotator{Path: path, MaxSize: 1000, MaxFiles: 50}
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	// Lines written in odd-sized chunks that split lines across writes.
	var all strings.Builder
	for i := range 400 {
		fmt.Fprintf(&all, "line %04d %s\n", i, strings.Repeat("x", i%40))
	}
	data := []byte(all.String())
	for len(data) > 0 {
		n := min(37, len(data))
		if _, err := r.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	r.Close()
	var got []string
	for i := 50; i >= 1; i-- {
		got = append(got, readLines(t, Generation(path, i))...)
	}
	got = append(got, readLines(t, path)...)
	want := strings.Split(strings.TrimSuffix(all.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines across generations, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
	for i := 1; i <= 50; i++ {
		if fi, err := os.Stat(Generation(path, i)); err == nil && fi.Size() > 1000 {
			t.Errorf("generation %d has %d bytes, over the limit", i, fi.Size())
		}
	}
}

func TestRotatorDropsOldestGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.out")
	r := &Rotator{Path: path, MaxSize: 10, MaxFiles: 2}
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		fmt.Fprintf(r, "%09d\n", i) // 10 bytes: one line per file
	}
	r.Close()
	for file, want := range map[string]string{path: "000000004\n", path + ".1": "000000003\n", path + ".2": "000000002\n"} {
		if b, _ := os.ReadFile(file); string(b) != want {
			t.Errorf("%s = %q, want %q", file, b, want)
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("kept a third generation")
	}
}

func TestRotatorTimestamps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.out")
	at := time.Date(2026, 11, 28, 5, 30, 0, 0, time.UTC)
	r := &Rotator{Path: path, Timestamps: true, Now: func() time.Time { return at }}
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	r.Write([]byte("one\ntw"))
	r.Write([]byte("o\n"))
	r.Close()
	b, _ := os.ReadFile(path)
	want := "2026-11-28T05:30:00.000Z one\n2026-11-28T05:30:00.000Z two\n"
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

func readLines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

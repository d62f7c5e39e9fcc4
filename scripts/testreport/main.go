// Command testreport reads `go test -json` on stdin and prints what a
// person needs of it: each package's result line, the whole output of every
// failed test, every skipped test with its reason, and a closing count.
// With -noskip (CI), a skipped test fails the run: CI installs every tool
// the tests need, so a skip there means a test did not run.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	noSkip := flag.Bool("noskip", false, "fail if any test was skipped")
	flag.Parse()
	var (
		output                  = map[string][]string{} // by package and test
		passed, failed, skipped int
		skips                   []string
		badPackage              bool
	)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var ev event
		if json.Unmarshal(in.Bytes(), &ev) != nil {
			fmt.Println(in.Text()) // not an event: a build error, say
			continue
		}
		key := ev.Package + " " + ev.Test
		switch {
		case ev.Action == "build-output":
			fmt.Print(ev.Output)
		case ev.Action == "build-fail":
			badPackage = true
		case ev.Action == "output" && ev.Test == "":
			if line := strings.TrimRight(ev.Output, "\n"); line != "PASS" && !strings.HasPrefix(line, "=== ") {
				fmt.Print(ev.Output)
			}
			if strings.HasPrefix(ev.Output, "FAIL") {
				badPackage = true
			}
		case ev.Action == "output":
			output[key] = append(output[key], ev.Output)
		case ev.Action == "pass" && ev.Test != "":
			passed++
			delete(output, key)
		case ev.Action == "fail" && ev.Test != "":
			failed++
			fmt.Print(strings.Join(output[key], ""))
			delete(output, key)
		case ev.Action == "skip" && ev.Test != "":
			skipped++
			skips = append(skips, fmt.Sprintf("%s %s: %s", ev.Package, ev.Test, skipReason(output[key])))
			delete(output, key)
		}
	}
	for _, s := range skips {
		fmt.Println("skipped:", s)
	}
	fmt.Printf("tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case failed > 0 || badPackage:
		os.Exit(1)
	case *noSkip && skipped > 0:
		fmt.Println("testreport: tests were skipped where every tool is installed; each must run")
		os.Exit(1)
	}
}

// skipReason is the last line a skipped test logged that says why.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "no reason given"
}

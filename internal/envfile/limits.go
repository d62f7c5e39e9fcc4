package envfile

import (
	"fmt"

	"mvdan.cc/sh/v3/syntax"
)

// Limits on what an environment may grow to. A value over MaxValue cannot
// be handed to a program at all (execve(2): MAX_ARG_STRLEN, 32 pages),
// and an environment over MaxTotal would not fit beside a command line
// under the default 8 MiB stack. They are checked before a value is
// expanded, on a bound of what it can grow to, so that 65 bytes of
// `A=${A//?/$A}` lines are refused at once instead of taking all memory.
const (
	MaxValue = 128 << 10
	MaxTotal = 2 << 20
)

// checkGrowth refuses to expand w into key when the result could pass
// MaxValue, or the whole environment MaxTotal.
func (e *Env) checkGrowth(key string, w *syntax.Word, base int) error {
	n := base + e.bound(w)
	if n > MaxValue {
		return fmt.Errorf("%s could grow to %s, more than the %s a program's environment string may hold (execve(2)): refused", key, size(n), size(MaxValue))
	}
	old, _ := e.Get(key)
	if total := e.size() - len(old) + n; total > MaxTotal {
		return fmt.Errorf("%s would make the environment %s, more than %s: refused", key, size(total), size(MaxTotal))
	}
	return nil
}

// size is how much the environment takes as KEY=VALUE strings.
func (e *Env) size() int {
	n := 0
	for k, v := range e.vals {
		n += len(k) + len(v) + 2
	}
	return n
}

// bound is the most bytes w can expand to against e.
func (e *Env) bound(w *syntax.Word) int {
	if w == nil {
		return 0
	}
	n := 0
	for _, part := range w.Parts {
		n = saturate(n + e.partBound(part))
	}
	return n
}

func (e *Env) partBound(part syntax.WordPart) int {
	switch p := part.(type) {
	case *syntax.Lit:
		return len(p.Value)
	case *syntax.SglQuoted:
		return len(p.Value)
	case *syntax.DblQuoted:
		n := 0
		for _, q := range p.Parts {
			n = saturate(n + e.partBound(q))
		}
		return n
	case *syntax.ParamExp:
		return e.paramBound(p)
	}
	return len(wordText(&syntax.Word{Parts: []syntax.WordPart{part}}))
}

func (e *Env) paramBound(p *syntax.ParamExp) int {
	if p.Length {
		return 20
	}
	v, _ := e.Get(p.Param.Value)
	n := len(v)
	if p.Excl { // ${!A}: any variable's value
		n = e.longest()
	}
	if p.Exp != nil { // ${A:-word}, ${A:=word}, ${A:+word}, ...
		n = max(n, e.bound(p.Exp.Word))
	}
	if p.Repl != nil {
		with := e.bound(p.Repl.With)
		if p.Repl.All { // every byte may be replaced, and an empty match at the end
			n = saturate(n*(with+1) + with)
		} else {
			n = saturate(n + with)
		}
	}
	if p.Exp != nil && (p.Exp.Op == syntax.UpperAll || p.Exp.Op == syntax.UpperFirst ||
		p.Exp.Op == syntax.LowerAll || p.Exp.Op == syntax.LowerFirst) {
		n = saturate(3 * n) // a case change may lengthen a UTF-8 encoding
	}
	return n
}

func (e *Env) longest() int {
	n := 0
	for _, v := range e.vals {
		n = max(n, len(v))
	}
	return n
}

// saturate keeps a bound from overflowing: anything past a gigabyte is
// refused all the same.
func saturate(n int) int {
	if n < 0 || n > 1<<30 {
		return 1 << 30
	}
	return n
}

func size(n int) string {
	switch {
	case n >= 1<<30:
		return "over 1 GiB"
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+1023)>>10)
}

// Package envfile reads shell environment files, such as DolphinScheduler's
// bin/env/dolphinscheduler_env.sh, without running them: the file is
// parsed by a real shell parser, assignments are expanded against the
// variables known so far, and anything that would execute a command is
// an error naming the file and line.
package envfile

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// Env is an ordered set of environment variables. The zero value is empty
// and ready to use.
type Env struct {
	vals  map[string]string
	order []string
}

// FromEnviron builds an Env from KEY=VALUE strings, as os.Environ returns.
func FromEnviron(environ []string) *Env {
	e := &Env{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			e.Set(k, v)
		}
	}
	return e
}

// Get returns the value of key and whether it is set.
func (e *Env) Get(key string) (string, bool) {
	v, ok := e.vals[key]
	return v, ok
}

// Set assigns key, keeping its first position if it was already set.
func (e *Env) Set(key, value string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[key]; !ok {
		e.order = append(e.order, key)
	}
	e.vals[key] = value
}

// Unset removes key.
func (e *Env) Unset(key string) {
	if _, ok := e.vals[key]; ok {
		delete(e.vals, key)
		e.order = slices.DeleteFunc(e.order, func(k string) bool { return k == key })
	}
}

// Keys returns the variable names in the order they were first set.
func (e *Env) Keys() []string { return slices.Clone(e.order) }

// Environ returns KEY=VALUE strings for exec.
func (e *Env) Environ() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// Clone returns an independent copy.
func (e *Env) Clone() *Env {
	c := &Env{vals: make(map[string]string, len(e.vals)), order: slices.Clone(e.order)}
	for k, v := range e.vals {
		c.vals[k] = v
	}
	return c
}

// Expand expands $VAR, ${VAR} and ${VAR:-default} in s against e, as the
// value of a shell assignment would be, for key. Commands are refused, and
// so is a value that could grow past MaxValue.
func (e *Env) Expand(key, s string) (string, error) {
	word, err := syntax.NewParser().Document(strings.NewReader(s))
	if err != nil {
		return "", err
	}
	if err := refuseCommands(word); err != nil {
		return "", err
	}
	if err := e.checkGrowth(key, word, 0); err != nil {
		return "", err
	}
	return expand.Document(e.expandConfig(), word)
}

// LoadFile reads the env file at path into e.
func (e *Env) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	return e.Load(f, path)
}

// Load reads an env file from r (named name in errors) into e, expanding
// each value against the variables set before it.
func (e *Env) Load(r io.Reader, name string) error {
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(r, name)
	if err != nil {
		return fmt.Errorf("%s", err) // already "name:line:col: message"
	}
	for _, stmt := range file.Stmts {
		if err := e.apply(stmt, name); err != nil {
			return err
		}
	}
	return nil
}

// ErrNotAllowed marks shell constructs that an env file may not contain.
type ErrNotAllowed struct {
	File string
	Line uint
	What string
}

func (e *ErrNotAllowed) Error() string {
	return fmt.Sprintf("%s:%d: %s is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)", e.File, e.Line, e.What)
}

func (e *Env) apply(stmt *syntax.Stmt, name string) error {
	notAllowed := func(pos syntax.Pos, what string) error {
		return &ErrNotAllowed{File: name, Line: pos.Line(), What: what}
	}
	switch {
	case stmt.Negated:
		return notAllowed(stmt.Pos(), "'!'")
	case stmt.Background || stmt.Coprocess:
		return notAllowed(stmt.Pos(), "a background command")
	case len(stmt.Redirs) > 0:
		return notAllowed(stmt.Redirs[0].Pos(), "a redirection")
	}
	if err := refuseCommands(stmt); err != nil {
		return withFile(err, name)
	}
	switch cmd := stmt.Cmd.(type) {
	case *syntax.CallExpr:
		switch {
		case len(cmd.Args) > 0 && len(cmd.Assigns) > 0:
			// KEY= VALUE: the "command" is most likely the value meant
			// for KEY, maybe a password: it is not repeated.
			last := cmd.Assigns[len(cmd.Assigns)-1]
			return notAllowed(cmd.Args[0].Pos(), fmt.Sprintf("a command after %s= (a space after the =?)", last.Name.Value))
		case len(cmd.Args) > 0:
			return notAllowed(cmd.Args[0].Pos(), fmt.Sprintf("the command %q", wordText(cmd.Args[0])))
		}
		return e.assign(cmd.Assigns, name)
	case *syntax.DeclClause:
		if cmd.Variant.Value != "export" {
			return notAllowed(cmd.Pos(), fmt.Sprintf("%q", cmd.Variant.Value))
		}
		return e.assign(cmd.Args, name)
	case nil:
		return nil
	default:
		return notAllowed(stmt.Pos(), describe(cmd))
	}
}

func (e *Env) assign(assigns []*syntax.Assign, name string) error {
	for _, a := range assigns {
		if a.Name == nil {
			return &ErrNotAllowed{File: name, Line: a.Pos().Line(), What: fmt.Sprintf("the option %q", wordText(a.Value))}
		}
		if a.Array != nil || a.Index != nil {
			return &ErrNotAllowed{File: name, Line: a.Pos().Line(), What: "an array"}
		}
		if a.Naked { // export KEY: the value it already has, if any
			continue
		}
		value := ""
		base := 0
		if a.Append {
			old, _ := e.Get(a.Name.Value)
			base = len(old)
		}
		if err := e.checkGrowth(a.Name.Value, a.Value, base); err != nil {
			return fmt.Errorf("%s:%d: %w", name, a.Pos().Line(), err)
		}
		if a.Value != nil {
			v, err := expand.Literal(e.expandConfig(), a.Value)
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %w", name, a.Pos().Line(), a.Name.Value, err)
			}
			value = v
		}
		if a.Append {
			old, _ := e.Get(a.Name.Value)
			value = old + value
		}
		e.Set(a.Name.Value, value)
	}
	return nil
}

// refuseCommands rejects any node that would run a command when expanded.
func refuseCommands(node syntax.Node) error {
	var err error
	syntax.Walk(node, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.CmdSubst:
			err = &ErrNotAllowed{Line: n.Pos().Line(), What: "command substitution"}
		case *syntax.ProcSubst:
			err = &ErrNotAllowed{Line: n.Pos().Line(), What: "process substitution"}
		case *syntax.ArithmExp:
			err = &ErrNotAllowed{Line: n.Pos().Line(), What: "arithmetic expansion"}
		}
		return err == nil
	})
	return err
}

func withFile(err error, name string) error {
	if na, ok := err.(*ErrNotAllowed); ok {
		na.File = name
	}
	return err
}

func describe(cmd syntax.Command) string {
	switch cmd.(type) {
	case *syntax.BinaryCmd:
		return "a pipeline or command list"
	case *syntax.IfClause, *syntax.WhileClause, *syntax.ForClause, *syntax.CaseClause:
		return "control flow"
	case *syntax.FuncDecl:
		return "a function definition"
	case *syntax.Subshell, *syntax.Block:
		return "a command group"
	}
	return "a command"
}

func wordText(w *syntax.Word) string {
	if w == nil {
		return ""
	}
	var b strings.Builder
	syntax.NewPrinter().Print(&b, w)
	return b.String()
}

func (e *Env) expandConfig() *expand.Config {
	return &expand.Config{Env: environ{e}}
}

// environ adapts Env to mvdan.cc/sh's expand.WriteEnviron, so that
// ${VAR:=default} assigns as it does in a shell.
type environ struct{ e *Env }

func (w environ) Get(name string) expand.Variable {
	v, ok := w.e.Get(name)
	if !ok {
		return expand.Variable{}
	}
	return expand.Variable{Set: true, Exported: true, Kind: expand.String, Str: v}
}

func (w environ) Each(fn func(name string, vr expand.Variable) bool) {
	for _, k := range w.e.order {
		if !fn(k, w.Get(k)) {
			return
		}
	}
}

func (w environ) Set(name string, vr expand.Variable) error {
	if !vr.IsSet() {
		w.e.Unset(name)
		return nil
	}
	if vr.Kind == expand.String {
		w.e.Set(name, vr.Str)
	}
	return nil
}

// Quote quotes s for a POSIX shell as one word with nothing expanded,
// leaving plain words (letters, digits, -_./:=@%+,) as they are: what env
// files and remote command lines daemonctl writes hold.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@%+,", c))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

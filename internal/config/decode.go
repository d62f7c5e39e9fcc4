package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// An Error is a config mistake at a known place in a config file.
type Error struct {
	File    string
	Line    int
	Column  int
	Path    string // dotted key path, e.g. services.master-server.ready
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// scalarDecoder is implemented by config types written as one YAML scalar
// (durations, sizes, signal names).
type scalarDecoder interface {
	decodeScalar(s string) error
}

// nodeDecoder is implemented by config types with more than one YAML shape.
type nodeDecoder interface {
	decodeNode(d *decoder, n ast.Node, path string) error
}

// decoder fills Go values from a goccy/go-yaml AST, strictly: unknown keys,
// duplicate keys and wrong types are errors that carry line, column and key
// path. It exists because goccy's own decoder reports neither the key path
// nor errors from custom types with their position.
type decoder struct {
	file    string
	anchors map[string]ast.Node
	order   map[string][]string // mapping path -> keys in file order
	nodes   int                 // values decoded so far, aliases expanded
}

func (d *decoder) errorf(n ast.Node, path, format string, args ...any) *Error {
	e := &Error{File: d.file, Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// resolve strips anchors, aliases and tags down to the value node. An
// alias that cannot be resolved (unknown, or part of a cycle such as an
// anchor whose value is an alias to itself) is returned as it is.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for steps := 0; ; steps++ {
		if steps > 64 {
			return n // a cycle of aliases
		}
		switch v := n.(type) {
		case *ast.AnchorNode:
			d.anchors[v.Name.GetToken().Value] = v.Value
			n = v.Value
		case *ast.AliasNode:
			target, ok := d.anchors[v.Value.GetToken().Value]
			if !ok {
				return n
			}
			n = target
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decode(n ast.Node, v reflect.Value, path string) error {
	if d.nodes++; d.nodes > MaxNodes {
		return d.errorf(n, path, "the config expands to more than %d values (aliases of aliases?): refused", MaxNodes)
	}
	n = d.resolve(n)
	if alias, ok := n.(*ast.AliasNode); ok {
		return d.errorf(n, path, "alias %q refers to no anchor, or to itself", alias.Value.GetToken().Value)
	}
	if v.Kind() == reflect.Pointer {
		if _, isNull := n.(*ast.NullNode); isNull {
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.CanAddr() {
		switch dec := v.Addr().Interface().(type) {
		case nodeDecoder:
			return dec.decodeNode(d, n, path)
		case scalarDecoder:
			s, err := d.scalar(n, path)
			if err != nil || s == nil {
				return err
			}
			if err := dec.decodeScalar(*s); err != nil {
				return d.errorf(n, path, "%v", err)
			}
			return nil
		}
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.decodeStruct(n, v, path)
	case reflect.Map:
		return d.decodeMap(n, v, path)
	case reflect.Slice:
		return d.decodeSlice(n, v, path)
	case reflect.String:
		s, err := d.scalar(n, path)
		if err == nil && s != nil {
			v.SetString(*s)
		}
		return err
	case reflect.Int, reflect.Int64, reflect.Int32:
		s, err := d.scalar(n, path)
		if err != nil || s == nil {
			return err
		}
		i, perr := strconv.ParseInt(*s, 10, 64)
		if perr != nil {
			return d.errorf(n, path, "want an integer, got %q", *s)
		}
		v.SetInt(i)
		return nil
	case reflect.Bool:
		s, err := d.scalar(n, path)
		if err != nil || s == nil {
			return err
		}
		b, perr := strconv.ParseBool(*s)
		if perr != nil {
			return d.errorf(n, path, "want true or false, got %q", *s)
		}
		v.SetBool(b)
		return nil
	}
	return d.errorf(n, path, "internal: cannot decode into %s", v.Type())
}

// scalar returns a scalar node's text, nil for null, or an error for a
// mapping or sequence.
func (d *decoder) scalar(n ast.Node, path string) (*string, error) {
	switch v := n.(type) {
	case *ast.NullNode:
		return nil, nil
	case *ast.StringNode:
		return &v.Value, nil
	case *ast.LiteralNode:
		s := v.Value.Value
		return &s, nil
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		s := n.GetToken().Value
		return &s, nil
	}
	return nil, d.errorf(n, path, "want a single value, got %s", kindName(n))
}

func kindName(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return "a " + strings.ToLower(n.Type().String())
}

// mapping returns the key/value pairs of a mapping node in file order,
// rejecting duplicate keys and merge keys.
func (d *decoder) mapping(n ast.Node, path string) ([]*ast.MappingValueNode, error) {
	var pairs []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.NullNode:
		return nil, nil
	case *ast.MappingNode:
		pairs = v.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{v}
	default:
		return nil, d.errorf(n, path, "want a mapping, got %s", kindName(n))
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		key := p.Key.GetToken().Value
		if p.Key.GetToken().Type == token.MergeKeyType {
			return nil, d.errorf(p.Key, path, "merge keys (<<) are not supported")
		}
		if seen[key] {
			return nil, d.errorf(p.Key, path, "duplicate key %q", key)
		}
		seen[key] = true
	}
	return pairs, nil
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string) error {
	pairs, err := d.mapping(n, path)
	if err != nil {
		return err
	}
	fields := map[string]int{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	for _, p := range pairs {
		key := p.Key.GetToken().Value
		i, ok := fields[key]
		if !ok {
			return d.errorf(p.Key, path, "unknown key %q%s", key, suggest(key, fields))
		}
		if err := d.decode(p.Value, v.Field(i), join(path, key)); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) decodeMap(n ast.Node, v reflect.Value, path string) error {
	pairs, err := d.mapping(n, path)
	if err != nil {
		return err
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	var keys []string
	for _, p := range pairs {
		key := p.Key.GetToken().Value
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.decode(p.Value, elem, join(path, key)); err != nil {
			return err
		}
		v.SetMapIndex(reflect.ValueOf(key), elem)
		keys = append(keys, key)
	}
	d.order[path] = keys
	return nil
}

func (d *decoder) decodeSlice(n ast.Node, v reflect.Value, path string) error {
	if _, ok := n.(*ast.NullNode); ok {
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		return d.errorf(n, path, "want a list, got %s", kindName(n))
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, item := range seq.Values {
		if err := d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

// suggest names the closest known key when the unknown one looks like a typo.
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if dist := editDistance(key, f); dist < bestDist {
			best, bestDist = f, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

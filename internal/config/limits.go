package config

import "fmt"

// Limits on a config file, checked before it is parsed or decoded, so that
// a hostile or broken file costs milliseconds, not minutes and gigabytes
// (goccy/go-yaml's parser is quadratic in flow nesting: 32 KB of "[" took
// 1.7 s and 430 MB). A real config is a few KB, nested a few levels deep.
const (
	MaxSize    = 1 << 20 // bytes
	MaxNesting = 32      // [ and { inside each other
	MaxNodes   = 100_000 // values decoded, aliases expanded
)

// checkShape refuses src when it is too big or nested too deep to parse.
func checkShape(path string, src []byte) error {
	if len(src) > MaxSize {
		return &Error{File: path, Message: fmt.Sprintf("%d bytes, over the %d a config may have: refused", len(src), MaxSize)}
	}
	line, col, depth := 1, 0, 0
	var quote byte // inside '...' or "...": brackets do not count
	comment := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		col++
		switch {
		case c == '\n':
			line, col, comment = line+1, 0, false
			if quote == '\'' || quote == '"' {
				continue // a quoted scalar may span lines
			}
		case comment:
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
				col++
			} else if c == quote {
				quote = 0
			}
		case c == '#' && (i == 0 || src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n'):
			comment = true
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '{':
			if depth++; depth > MaxNesting {
				return &Error{File: path, Line: line, Column: col, Message: fmt.Sprintf("nested more than %d deep ([ and { inside each other): refused", MaxNesting)}
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

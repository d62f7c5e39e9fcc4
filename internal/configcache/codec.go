package configcache

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// An entry is written in a format of this package's own: only the binary
// that wrote it reads it (exeID), so it need not outlive a build. Each
// value is written by its kind, the fields of a struct in the order
// they are declared, without their names: a bool as a byte, an integer
// as a varint, a string, slice or map as its length (plus one, zero
// being nil) and its contents, a pointer as a byte (0 for nil) and what
// it points to, a pattern (a type that marshals itself as text) as its
// text. Fields tagged json:"-" are left out, as they were from the JSON
// the cache held before: they are worked out again after decoding.
//
// encoding/json spent 0.65 ms of a status or a stop, in a fresh process,
// working out the fields of the config's types by reflection before it
// decoded anything; this needs only their number and order.

// entryMagic begins every entry, so that nothing else is taken for one.
const entryMagic = "daemonctl config cache 2\n"

var (
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// errCorrupt is any entry that does not decode.
var errCorrupt = errors.New("corrupt cache entry")

// plans holds, for each struct type, the indexes of the fields written.
var plans sync.Map // reflect.Type → []int

func fieldsOf(t reflect.Type) ([]int, error) {
	if p, ok := plans.Load(t); ok {
		return p.([]int), nil
	}
	var fields []int
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			// Decoding could not set it, and the config would come back
			// without it.
			return nil, fmt.Errorf("%s.%s: unexported fields are not cached", t, f.Name)
		}
		if f.Tag.Get("json") != "-" {
			fields = append(fields, i)
		}
	}
	plans.Store(t, fields)
	return fields, nil
}

// isText reports whether t is a pointer type that marshals itself as text.
func isText(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer && t.Implements(textMarshaler) && t.Implements(textUnmarshaler)
}

func encodeValue(b []byte, v reflect.Value) ([]byte, error) {
	if isText(v.Type()) {
		if v.IsNil() {
			return append(b, 0), nil
		}
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil, err
		}
		return appendBytes(append(b, 1), text), nil
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return binary.AppendUvarint(b, v.Uint()), nil
	case reflect.String:
		return appendBytes(b, []byte(v.String())), nil
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, 0), nil
		}
		return encodeValue(append(b, 1), v.Elem())
	case reflect.Slice:
		return encodeSlice(b, v)
	case reflect.Map:
		return encodeMap(b, v)
	case reflect.Struct:
		fields, err := fieldsOf(v.Type())
		if err != nil {
			return nil, err
		}
		for _, i := range fields {
			if b, err = encodeValue(b, v.Field(i)); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s: not a kind the cache holds", v.Type())
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s))+1)
	return append(b, s...)
}

func encodeSlice(b []byte, v reflect.Value) ([]byte, error) {
	if v.IsNil() {
		return append(b, 0), nil
	}
	b = binary.AppendUvarint(b, uint64(v.Len())+1)
	var err error
	for i := range v.Len() {
		if b, err = encodeValue(b, v.Index(i)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// encodeMap writes a map with string keys, sorted, so that the same
// config makes the same entry.
func encodeMap(b []byte, v reflect.Value) ([]byte, error) {
	if v.Type().Key().Kind() != reflect.String {
		return nil, fmt.Errorf("%s: the cache holds maps with string keys only", v.Type())
	}
	if v.IsNil() {
		return append(b, 0), nil
	}
	b = binary.AppendUvarint(b, uint64(v.Len())+1)
	keys := v.MapKeys()
	slices.SortFunc(keys, func(x, y reflect.Value) int { return cmp.Compare(x.String(), y.String()) })
	var err error
	for _, k := range keys {
		b = appendBytes(b, []byte(k.String()))
		if b, err = encodeValue(b, v.MapIndex(k)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// decoder reads what encodeValue wrote. Every length is checked against
// what is left to read, so that a damaged entry fails rather than
// allocating what it claims.
type decoder struct {
	b []byte
}

func (d *decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, errCorrupt
	}
	d.b = d.b[n:]
	return v, nil
}

// length reads a length written plus one; nil is false for zero.
func (d *decoder) length() (n int, nonNil bool, err error) {
	v, err := d.uvarint()
	if err != nil || v == 0 {
		return 0, false, err
	}
	if v-1 > uint64(len(d.b)) {
		return 0, false, errCorrupt
	}
	return int(v - 1), true, nil
}

func (d *decoder) bytes() ([]byte, bool, error) {
	n, nonNil, err := d.length()
	if err != nil || !nonNil {
		return nil, false, err
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s, true, nil
}

func (d *decoder) flag() (bool, error) {
	if len(d.b) == 0 || d.b[0] > 1 {
		return false, errCorrupt
	}
	f := d.b[0] == 1
	d.b = d.b[1:]
	return f, nil
}

func (d *decoder) value(v reflect.Value) error {
	if isText(v.Type()) {
		return d.text(v)
	}
	switch v.Kind() {
	case reflect.Bool:
		f, err := d.flag()
		v.SetBool(f)
		return err
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, n := binary.Varint(d.b)
		if n <= 0 || v.OverflowInt(i) {
			return errCorrupt
		}
		d.b = d.b[n:]
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := d.uvarint()
		if err != nil || v.OverflowUint(u) {
			return errCorrupt
		}
		v.SetUint(u)
	case reflect.String:
		s, _, err := d.bytes()
		v.SetString(string(s))
		return err
	case reflect.Pointer:
		set, err := d.flag()
		if err != nil || !set {
			return err
		}
		v.Set(reflect.New(v.Type().Elem()))
		return d.value(v.Elem())
	case reflect.Slice:
		return d.slice(v)
	case reflect.Map:
		return d.mapOf(v)
	case reflect.Struct:
		fields, err := fieldsOf(v.Type())
		if err != nil {
			return err
		}
		for _, i := range fields {
			if err := d.value(v.Field(i)); err != nil {
				return err
			}
		}
	default:
		return errCorrupt
	}
	return nil
}

func (d *decoder) text(v reflect.Value) error {
	set, err := d.flag()
	if err != nil || !set {
		return err
	}
	text, _, err := d.bytes()
	if err != nil {
		return err
	}
	v.Set(reflect.New(v.Type().Elem()))
	return v.Interface().(encoding.TextUnmarshaler).UnmarshalText(text)
}

func (d *decoder) slice(v reflect.Value) error {
	n, nonNil, err := d.length()
	if err != nil || !nonNil {
		return err
	}
	v.Set(reflect.MakeSlice(v.Type(), n, n))
	for i := range n {
		if err := d.value(v.Index(i)); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) mapOf(v reflect.Value) error {
	n, nonNil, err := d.length()
	if err != nil || !nonNil {
		return err
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, n)
	for range n {
		k, _, err := d.bytes()
		if err != nil {
			return err
		}
		e := reflect.New(t.Elem()).Elem()
		if err := d.value(e); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(string(k)).Convert(t.Key()), e)
	}
	v.Set(m)
	return nil
}

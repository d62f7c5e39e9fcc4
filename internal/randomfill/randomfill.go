// Package randomfill fills values at random by reflection, for the tests
// that hold daemonctl's hand-written encoders and decoders to
// encoding/json's (records, fingerprints, the config cache): every
// exported field is set, so a field added to a type later is covered
// without a change to the test, and a kind the filler does not know
// fails the test instead of being skipped.
package randomfill

import (
	"cmp"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"testing"
)

// A Filler sets values at random.
type Filler struct {
	Rand *rand.Rand
	// Strings are the pieces strings are made of: up to four, at random.
	Strings []string
	// Special sets v itself and reports true for the types it knows
	// better (times, patterns); nil knows none.
	Special func(v reflect.Value) bool
	// MaxDepth bounds how deep pointers, slices and maps nest; 0 is 4.
	MaxDepth int
}

// Fill sets every exported field within v that encoding/json writes
// (those not tagged json:"-").
func (f *Filler) Fill(t testing.TB, v reflect.Value) {
	t.Helper()
	f.fill(t, v, 0)
}

func (f *Filler) fill(t testing.TB, v reflect.Value, depth int) {
	t.Helper()
	if f.Special != nil && f.Special(v) {
		return
	}
	deeper := depth < cmp.Or(f.MaxDepth, 4)
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if field := v.Type().Field(i); field.IsExported() && field.Tag.Get("json") != "-" {
				f.fill(t, v.Field(i), depth)
			}
		}
	case reflect.Pointer:
		if deeper && f.Rand.IntN(3) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			f.fill(t, v.Elem(), depth+1)
		}
	case reflect.String:
		var s []byte
		for range f.Rand.IntN(5) {
			s = append(s, f.Strings[f.Rand.IntN(len(f.Strings))]...)
		}
		v.SetString(string(s))
	case reflect.Bool:
		v.SetBool(f.Rand.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := []int64{0, 0, 1, -1, 4242, math.MaxInt64, math.MinInt64, f.Rand.Int64()}[f.Rand.IntN(8)]
		for v.OverflowInt(n) {
			n /= 1 << 16
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n := []uint64{0, 0, 1, 18, 4242, math.MaxUint64, f.Rand.Uint64()}[f.Rand.IntN(7)]
		for v.OverflowUint(n) {
			n /= 1 << 16
		}
		v.SetUint(n)
	case reflect.Slice:
		if deeper && f.Rand.IntN(4) > 0 {
			n := f.Rand.IntN(3)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				f.fill(t, v.Index(i), depth+1)
			}
		}
	case reflect.Map:
		if deeper && v.Type().Key().Kind() == reflect.String && f.Rand.IntN(4) > 0 {
			v.Set(reflect.MakeMap(v.Type()))
			for _, key := range []string{"a", "b", "master-server"}[:f.Rand.IntN(4)] {
				e := reflect.New(v.Type().Elem()).Elem()
				f.fill(t, e, depth+1)
				v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
			}
		}
	default:
		t.Fatalf("randomfill does not fill a %s yet: teach it, and the encoder under test", v.Type())
	}
}

// Patterns is a Special for the config's patterns: it sets each
// *regexp.Regexp to one of exprs or leaves it nil, at random.
func Patterns(rng *rand.Rand, exprs ...string) func(reflect.Value) bool {
	return func(v reflect.Value) bool {
		if v.Type() != reflect.TypeFor[*regexp.Regexp]() {
			return false
		}
		if rng.IntN(2) == 0 {
			v.Set(reflect.ValueOf(regexp.MustCompile(exprs[rng.IntN(len(exprs))])))
		}
		return true
	}
}

package drift

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"testing"
)

var patternType = reflect.TypeFor[*regexp.Regexp]()

// fillRandom sets every exported field within v that encoding/json
// writes, found by reflection so that a field added later to the config
// types a fingerprint covers is covered here too.
func fillRandom(t *testing.T, rng *rand.Rand, v reflect.Value) {
	if v.Type() == patternType {
		if rng.IntN(2) == 0 {
			v.Set(reflect.ValueOf(regexp.MustCompile([]string{"a+", `^Started <.*> in [0-9.]+ s$`, "(?i)pong\\n"}[rng.IntN(3)])))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && f.Tag.Get("json") != "-" {
				fillRandom(t, rng, v.Field(i))
			}
		}
	case reflect.Pointer:
		if rng.IntN(3) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fillRandom(t, rng, v.Elem())
		}
	case reflect.String:
		v.SetString([]string{"", "web", "a&b<c>", "é\x00\xff\u2028", `"\`}[rng.IntN(5)])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int64:
		v.SetInt([]int64{0, 1, -1, math.MaxInt64, math.MinInt64}[rng.IntN(5)])
	case reflect.Uint32, reflect.Uint64:
		v.SetUint([]uint64{0, 18, 0o777, uint64(math.MaxUint32)}[rng.IntN(4)])
	case reflect.Slice:
		if n := rng.IntN(4); n > 0 {
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				fillRandom(t, rng, v.Index(i))
			}
		}
	default:
		t.Fatalf("fillRandom does not fill a %s yet: teach it, and appendSpec", v.Type())
	}
}

// TestSpecsAreWrittenAsEncodingJSONWritesThem: a fingerprint hashes the
// bytes json.Marshal wrote, so that instances launched before appendSpec
// are not all reported changed.
func TestSpecsAreWrittenAsEncodingJSONWritesThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 3000 {
		var spec launchSpec
		fillRandom(t, rng, reflect.ValueOf(&spec).Elem())
		want, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSpec(nil, &spec); !bytes.Equal(got, want) {
			t.Fatalf("appendSpec wrote\n%s\nencoding/json writes\n%s", got, want)
		}
	}
}

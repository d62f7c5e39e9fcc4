package configcache

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"testing"

	"github.com/daemonctl/daemonctl/internal/config"
)

var patternType = reflect.TypeFor[*regexp.Regexp]()

// fillRandom sets every exported field within v, found by reflection so
// that a field added to the config later is covered too.
func fillRandom(t *testing.T, rng *rand.Rand, v reflect.Value, depth int) {
	if v.Type() == patternType {
		if rng.IntN(2) == 0 {
			v.Set(reflect.ValueOf(regexp.MustCompile([]string{"a+", `^Started .* in [0-9.]+ s$`, "(?i)pong"}[rng.IntN(3)])))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && f.Tag.Get("json") != "-" {
				fillRandom(t, rng, v.Field(i), depth)
			}
		}
	case reflect.Pointer:
		if depth > 4 || rng.IntN(3) == 0 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fillRandom(t, rng, v.Elem(), depth+1)
	case reflect.String:
		v.SetString([]string{"", "web", "/opt/ds/logs/web.out", "é\x00\xff"}[rng.IntN(4)])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		v.SetInt([]int64{0, 1, -1, math.MaxInt64, math.MinInt64}[rng.IntN(5)])
	case reflect.Int32, reflect.Uint32:
		v.Set(reflect.ValueOf(int64(rng.Int32())).Convert(v.Type()))
	case reflect.Uint64:
		v.SetUint([]uint64{0, 1, math.MaxUint64}[rng.IntN(3)])
	case reflect.Slice:
		if n := rng.IntN(4); n > 0 {
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				fillRandom(t, rng, v.Index(i), depth+1)
			}
		}
	case reflect.Map:
		if n := rng.IntN(4); n > 0 && depth < 4 {
			v.Set(reflect.MakeMap(v.Type()))
			for i := range n - 1 {
				e := reflect.New(v.Type().Elem()).Elem()
				fillRandom(t, rng, e, depth+1)
				v.SetMapIndex(reflect.ValueOf([]string{"a", "b", "master-server"}[i]).Convert(v.Type().Key()), e)
			}
		}
	default:
		t.Fatalf("fillRandom does not fill a %s yet: teach it, and the cache's codec if need be", v.Type())
	}
}

// TestEveryFieldIsCached round-trips entries with every field set at
// random, not only what a config file can say.
func TestEveryFieldIsCached(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 2000 {
		var want entry
		fillRandom(t, rng, reflect.ValueOf(&want).Elem(), 0)
		if want.Config == nil {
			want.Config = &config.Config{}
		}
		b, err := encode(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded\n%+v\nencoded\n%+v", got, want)
		}
		again, _ := encode(got)
		if !bytes.Equal(again, b) {
			t.Fatal("the same entry encoded twice differs")
		}
	}
}

// TestADamagedEntryIsNotUsed: an entry cut short, or with its bytes
// changed, is refused or decodes to something else, and Load parses the
// config instead of using what a damaged entry holds.
func TestADamagedEntryIsNotUsed(t *testing.T) {
	path, cache := setup(t, every)
	want, err := Load(path, cache)
	if err != nil {
		t.Fatal(err)
	}
	file := entryFile(t, cache)
	whole, _ := os.ReadFile(file)
	for _, damaged := range [][]byte{whole[:len(whole)/2], whole[:len(whole)-1], append(whole[:len(whole):len(whole)], 0), []byte(`{"exe":"x"}`), nil} {
		if _, err := decode(damaged); err == nil {
			t.Errorf("decode took a damaged entry (%d of %d bytes)", len(damaged), len(whole))
		}
		os.WriteFile(file, damaged, 0o600)
		if got, err := Load(path, cache); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Load with a damaged entry = %v; want the parsed config", err)
		}
	}
}

// FuzzDecode: no entry, however damaged, makes decode panic or allocate
// what it does not hold; what decodes encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	c, err := config.Parse("/f/daemonctl.yaml", []byte(every))
	if err != nil {
		f.Fatal(err)
	}
	b, err := encode(entry{Exe: "e", Sum: "s", Config: c, Dirs: map[string]string{"/f/logs": "1:2:3.4"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(entryMagic + "\x02e\x02s\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decode(b)
		if err != nil {
			return
		}
		again, err := encode(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decode(again)
		if err != nil || !reflect.DeepEqual(back, e) {
			t.Fatalf("an entry decoded, encoded and decoded again differs: %v", err)
		}
	})
}

package configcache

import (
	"bytes"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/randomfill"
)

// TestEveryFieldIsCached round-trips entries with every field set at
// random (randomfill), not only what a config file can say.
func TestEveryFieldIsCached(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	fill := randomfill.Filler{Rand: rng, Strings: []string{"", "web", "/opt/ds/logs/web.out", "é\x00\xff"}, Special: randomfill.Patterns(rng, "a+", `^Started .* in [0-9.]+ s$`, "(?i)pong"), MaxDepth: 6}
	for range 2000 {
		var want entry
		fill.Fill(t, reflect.ValueOf(&want).Elem())
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

package drift

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/daemonctl/daemonctl/internal/randomfill"
)

// TestSpecsAreWrittenAsEncodingJSONWritesThem: a fingerprint hashes the
// bytes json.Marshal wrote, so that instances launched before appendSpec
// are not all reported changed. Every field is set at random
// (randomfill), so a field added to the config types is covered.
func TestSpecsAreWrittenAsEncodingJSONWritesThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	fill := randomfill.Filler{Rand: rng, Strings: []string{"", "web", "a&b<c>", "é\x00\xff\u2028", `"\`}, Special: randomfill.Patterns(rng, "a+", `^Started <.*> in [0-9.]+ s$`, "(?i)pong\\n")}
	for range 3000 {
		var spec launchSpec
		fill.Fill(t, reflect.ValueOf(&spec).Elem())
		want, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSpec(nil, &spec); !bytes.Equal(got, want) {
			t.Fatalf("appendSpec wrote\n%s\nencoding/json writes\n%s", got, want)
		}
	}
}

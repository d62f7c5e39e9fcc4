package jsonquote

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "web", `"\<>&`, "\x00\x1f\x7f\b\f\n\r\t", "\u2028\u2029\xff\xe4\xb8é世\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := Append(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("Append(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}

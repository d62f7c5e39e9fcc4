package state

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/randomfill"
)

// randomRecord fills every exported field of a Record (randomfill). With
// plain, its strings need no escape and its times are all RFC 3339's:
// what appendRecord and parseRecord must take themselves.
func randomRecord(t testing.TB, rng *rand.Rand, plain bool) *Record {
	f := randomfill.Filler{Rand: rng, Strings: stringPieces(plain), Special: func(v reflect.Value) bool {
		if v.Type() != reflect.TypeFor[time.Time]() {
			return false
		}
		v.Set(reflect.ValueOf(randomTime(rng, plain)))
		return true
	}}
	r := new(Record)
	f.Fill(t, reflect.ValueOf(r).Elem())
	r.LastCrash = nil // Store.Write keeps it apart; the fallback takes it
	return r
}

func stringPieces(plain bool) []string {
	pieces := []string{"", "web", "/run/daemonctl/web.pid", "a b", "é", "世界", "0123456789abcdef"}
	if !plain {
		pieces = append(pieces, `"`, `\`, "<", ">", "&", "\n", "\t", "\b", "\f", "\r", "\x00", "\x1f", "\x7f",
			"\u2028", "\u2029", "\xff", "\xe4\xb8", "\ufffd", "\U0001F600")
	}
	return pieces
}

func randomTime(rng *rand.Rand, plain bool) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("X", -(5*3600 + 30*60)), time.Local}
	t := time.Unix(rng.Int64N(4e9), rng.Int64N(3)*rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	switch n := rng.IntN(8); {
	case n == 0:
		return time.Time{}
	case n == 1 && !plain:
		return time.Date(10000+rng.IntN(3), 1, 1, 0, 0, 0, 0, time.UTC) // encoding/json refuses it
	case n == 2 && !plain:
		return t.In(time.FixedZone("", 24*3600+60)) // and this offset
	}
	return t
}

func TestRecordsAreWrittenAsEncodingJSONWritesThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fast := 0
	for i := range 5000 {
		r := randomRecord(t, rng, i%2 == 0)
		if i%50 == 0 {
			r.LastCrash = &Crash{At: time.Unix(1, 0).UTC(), LogTail: []string{"<boom>"}}
		}
		want, wantErr := json.MarshalIndent(r, "", "  ")
		got, ok := appendRecord(nil, r)
		if ok {
			fast++
			if wantErr != nil {
				t.Fatalf("appendRecord wrote what encoding/json refuses (%v):\n%s", wantErr, got)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("appendRecord wrote\n%s\nencoding/json writes\n%s", got, want)
			}
		}
		b, err := marshalRecord(r)
		if (err != nil) != (wantErr != nil) || err == nil && !bytes.Equal(b, append(want, '\n')) {
			t.Fatalf("marshalRecord = %q, %v; want %q, %v", b, err, want, wantErr)
		}
		if i%2 == 0 && r.LastCrash == nil && !ok {
			t.Fatalf("appendRecord left a plain record to encoding/json:\n%s", want)
		}
	}
	t.Logf("%d of 5000 records written by appendRecord", fast)
}

func TestRecordsAreReadAsEncodingJSONReadsThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		plain := i%2 == 0
		r := randomRecord(t, rng, plain)
		indented, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			continue
		}
		// Also with the keys in another order (a map's, sorted) and no
		// space: what another writer could have made of it.
		var tree map[string]any
		d := json.NewDecoder(bytes.NewReader(indented))
		d.UseNumber()
		if err := d.Decode(&tree); err != nil {
			t.Fatal(err)
		}
		sorted, _ := json.Marshal(tree)
		for _, b := range [][]byte{indented, append(indented, '\n'), sorted} {
			got, ok := parseRecord(b)
			if plain && !ok {
				t.Fatalf("parseRecord left a plain record to encoding/json:\n%s", b)
			}
			if ok {
				readAsEncodingJSONReads(t, got, b)
			}
		}
	}
}

// TestWhatParseRecordLeavesIsReadByEncodingJSON reads, through
// ReadRecord, records that take encoding/json's way.
func TestWhatParseRecordLeavesIsReadByEncodingJSON(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"inline crash": `{"service":"web","last_crash":{"at":"2026-01-02T03:04:05Z","exit":{"code":1},"log_tail":["boom"]}}`,
		"unknown key":  `{"service":"web","added_later":[1,2,3]}`,
		"key's case":   `{"Service":"web"}`,
		"escape":       `{"service":"w\u0065b"}`,
		"repeated key": `{"service":"api","service":"web"}`,
		"null":         `{"service":null,"leader":{"pid":7}}`,
		"float":        `{"service":"web","restarts":1.0e0}`,
	} {
		path := filepath.Join(dir, "web.json")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok := parseRecord([]byte(text)); ok {
			t.Errorf("%s: parseRecord took %s", name, text)
		}
		var want Record
		wantErr := json.Unmarshal([]byte(text), &want)
		got, err := ReadRecord(path)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%s: ReadRecord error %v, encoding/json's %v", name, err, wantErr)
			continue
		}
		if err == nil && (got.Service != "web" && name != "null" || !reflect.DeepEqual(*got, want)) {
			t.Errorf("%s: ReadRecord = %+v, want %+v", name, *got, want)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20 {
		b, err := json.MarshalIndent(randomRecord(f, rng, i%2 == 0), "", "  ")
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"service":"web","leader":{"pid":01}}`))
	f.Add([]byte(`{"restarts":-0,"stop_timeout":9223372036854775808}`))
	f.Add([]byte(`{"leader_born":{"forks":-1}} x`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, ok := parseRecord(b); ok {
			readAsEncodingJSONReads(t, got, b)
		}
	})
}

// readAsEncodingJSONReads fails t unless encoding/json reads b too, and
// reads got from it.
func readAsEncodingJSONReads(t *testing.T, got *Record, b []byte) {
	t.Helper()
	var want Record
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("parseRecord read what encoding/json refuses (%v):\n%q", err, b)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("parseRecord read\n%+v\nencoding/json reads\n%+v\nfrom\n%q", *got, want, b)
	}
}

// TestATypicalRecordTakesTheQuickWay holds the stop's and the status's
// records to parseRecord and appendRecord: a record as a monitor writes
// it for a running service, and as a stop leaves it.
func TestATypicalRecordTakesTheQuickWay(t *testing.T) {
	now := time.Now().UTC()
	r := &Record{
		Service: "master-server", Phase: PhaseRunning,
		Leader: proc.Identity{PID: 4242, StartTicks: 123456, BootID: "0a8b4c54-7c44-4b4e-9d0b-4d7c1e0b6a11"},
		Token:  "3f9c2a", PidFile: "/opt/ds/run/master-server.pid", LogFile: "/opt/ds/logs/master-server.out",
		StartedAt: now, ReadyAt: &now, Supervisor: &proc.Identity{PID: 4240, StartTicks: 123450, BootID: "0a8b"},
		Claim: "c1", LeaderBorn: proc.PIDCount{Forks: 99, Threads: 120, PIDMax: 4194304}, Fingerprint: "abc",
	}
	for _, phase := range []Phase{PhaseRunning, PhaseStopping, PhaseStopped} {
		r.Phase = phase
		if phase == PhaseStopped {
			r.StoppedAt, r.LastExit = &now, &proc.ExitStatus{Code: 143, Signal: "TERM"}
		}
		b, ok := appendRecord(nil, r)
		if !ok {
			t.Fatalf("%s: appendRecord left it to encoding/json", phase)
		}
		if _, ok := parseRecord(b); !ok {
			t.Fatalf("%s: parseRecord left it to encoding/json:\n%s", phase, b)
		}
	}
}

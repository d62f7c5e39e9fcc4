package envfile

import (
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Masked is what a masked value shows.
const Masked = "********"

// secretKey matches the names of variables that hold secrets.
// It is compiled on first use, not at init: most commands never mask.
var secretKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(pass(word|wd)?|secret|token|credential|private|api_?key|access_?key|auth)`)
})

// maskMinLen is the shortest secret value hidden inside other values: a
// shorter one would mask every "1" or "ab" in sight, and is hidden only
// under its own name.
const maskMinLen = 4

// Masker hides secrets in an environment before it is shown.
type Masker struct{ secrets []string }

// NewMasker returns a Masker for env: the values of the variables whose
// names look like secrets (DB_PASSWORD, REDIS_AUTH, API_KEY, …).
func NewMasker(env *Env) *Masker {
	m := &Masker{}
	for _, k := range env.Keys() {
		if v, _ := env.Get(k); len(v) >= maskMinLen && secretKey().MatchString(k) {
			m.secrets = append(m.secrets, v)
		}
	}
	// The longest first, so that a secret containing another is hidden
	// whole.
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	return m
}

// Mask returns value as it may be shown under key: all of it hidden for a
// secret's name, and every secret's value hidden inside any other value
// (a JDBC URL built from ${DB_PASSWORD}).
func (m *Masker) Mask(key, value string) string {
	if value != "" && secretKey().MatchString(key) {
		return Masked
	}
	for _, s := range m.secrets {
		value = strings.ReplaceAll(value, s, Masked)
	}
	return value
}

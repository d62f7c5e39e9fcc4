package state

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/daemonctl/daemonctl/internal/jsonquote"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// A record is written by a stop twice and read by every command, each in
// a fresh process, where encoding/json's first use of a type costs more
// than the rest of the write: it works out the fields of Record and of
// every type in it by reflection (0.2–0.5 ms a use in a stop,
// BENCHMARKS.md). appendRecord and parseRecord do the same for the
// records daemonctl writes, field by field. Whatever they are not sure
// to do exactly as encoding/json does, they leave to it.

// appendRecord appends r as json.MarshalIndent(r, "", "  ") writes it.
// It reports false, leaving the record to encoding/json, for a record
// carrying its last crash inline (Store.Write keeps that apart) and for
// a time encoding/json refuses.
func appendRecord(b []byte, r *Record) ([]byte, bool) {
	if r.LastCrash != nil {
		return b, false
	}
	w := recordWriter{b: b, ok: true}
	w.open()
	w.str("service", r.Service)
	w.str("phase", string(r.Phase))
	w.key("leader")
	w.identity(r.Leader)
	w.str("token", r.Token)
	w.str("pid_file", r.PidFile)
	w.str("log_file", r.LogFile)
	w.time("started_at", r.StartedAt)
	w.timeIfSet("ready_at", r.ReadyAt)
	w.timeIfSet("stopped_at", r.StoppedAt)
	w.int("log_offset", r.LogOffset)
	w.int("restarts", int64(r.Restarts))
	w.key("last_exit")
	if r.LastExit == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.exit(*r.LastExit)
	}
	if r.Supervisor != nil {
		w.key("supervisor")
		w.identity(*r.Supervisor)
	}
	w.strIfSet("claim", r.Claim)
	w.intIfSet("quick_deaths", int64(r.QuickDeaths))
	w.timeIfSet("next_restart", r.NextRestart)
	w.strIfSet("log_error", r.LogError)
	w.strIfSet("gave_up_because", r.GaveUpBecause)
	if r.Adopted {
		w.key("adopted")
		w.b = append(w.b, "true"...)
	}
	if r.LeaderBorn != (proc.PIDCount{}) {
		w.key("leader_born")
		w.open()
		w.uint("forks", r.LeaderBorn.Forks)
		w.uint("threads", r.LeaderBorn.Threads)
		w.uint("pid_max", r.LeaderBorn.PIDMax)
		w.close()
	}
	w.strIfSet("unhealthy", r.Unhealthy)
	w.strIfSet("fingerprint", r.Fingerprint)
	w.intIfSet("stop_signal", int64(r.StopSignal))
	w.intIfSet("stop_timeout", int64(r.StopTimeout))
	w.timeIfSet("run_dir_full", r.RunDirFull)
	w.close()
	return w.b, w.ok
}

// recordWriter writes JSON objects indented as json.MarshalIndent with
// two spaces does.
type recordWriter struct {
	b     []byte
	depth int
	empty bool // the innermost open object has no field yet
	ok    bool // false: a value encoding/json would refuse
}

func (w *recordWriter) open() {
	w.b = append(w.b, '{')
	w.depth++
	w.empty = true
}

func (w *recordWriter) close() {
	w.depth--
	if !w.empty {
		w.newline()
	}
	w.b = append(w.b, '}')
	w.empty = false
}

func (w *recordWriter) newline() {
	w.b = append(w.b, '\n')
	for range w.depth {
		w.b = append(w.b, ' ', ' ')
	}
}

func (w *recordWriter) key(k string) {
	if !w.empty {
		w.b = append(w.b, ',')
	}
	w.empty = false
	w.newline()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':', ' ')
}

func (w *recordWriter) str(k, v string) {
	w.key(k)
	w.b = jsonquote.Append(w.b, v)
}

func (w *recordWriter) strIfSet(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *recordWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *recordWriter) intIfSet(k string, v int64) {
	if v != 0 {
		w.int(k, v)
	}
}

func (w *recordWriter) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *recordWriter) time(k string, t time.Time) {
	w.key(k)
	q, err := t.MarshalJSON()
	w.ok = w.ok && err == nil
	w.b = append(w.b, q...)
}

func (w *recordWriter) timeIfSet(k string, t *time.Time) {
	if t != nil {
		w.time(k, *t)
	}
}

func (w *recordWriter) identity(id proc.Identity) {
	w.open()
	w.int("pid", int64(id.PID))
	w.uint("start_ticks", id.StartTicks)
	w.str("boot_id", id.BootID)
	w.close()
}

func (w *recordWriter) exit(e proc.ExitStatus) {
	w.open()
	w.int("code", int64(e.Code))
	w.strIfSet("signal", e.Signal)
	w.close()
}

// parseRecord reads a record as json.Unmarshal would. It reports false,
// leaving the record to encoding/json, for anything it is not sure to
// read the same: a key it does not know or meets twice (encoding/json
// ignores the one, takes the last of the other, and matches keys
// whatever their case), a string with an escape or invalid UTF-8, a
// number that is not a plain integer, a null where no pointer is, a last
// crash kept inline, and any syntax error.
func parseRecord(b []byte) (*Record, bool) {
	p := recordParser{b: b, ok: true}
	r := new(Record)
	p.object(func(key string) bool {
		switch key {
		case "service":
			r.Service = p.str()
		case "phase":
			r.Phase = Phase(p.str())
		case "leader":
			r.Leader = p.identity()
		case "token":
			r.Token = p.str()
		case "pid_file":
			r.PidFile = p.str()
		case "log_file":
			r.LogFile = p.str()
		case "started_at":
			r.StartedAt = p.time()
		case "ready_at":
			r.ReadyAt = p.timeOrNull()
		case "stopped_at":
			r.StoppedAt = p.timeOrNull()
		case "log_offset":
			r.LogOffset = p.int(64)
		case "restarts":
			r.Restarts = int(p.int(strconv.IntSize))
		case "last_exit":
			if !p.null() {
				exit := p.exit()
				r.LastExit = &exit
			}
		case "supervisor":
			if !p.null() {
				sup := p.identity()
				r.Supervisor = &sup
			}
		case "claim":
			r.Claim = p.str()
		case "quick_deaths":
			r.QuickDeaths = int(p.int(strconv.IntSize))
		case "next_restart":
			r.NextRestart = p.timeOrNull()
		case "log_error":
			r.LogError = p.str()
		case "gave_up_because":
			r.GaveUpBecause = p.str()
		case "adopted":
			r.Adopted = p.bool()
		case "leader_born":
			r.LeaderBorn = p.pidCount()
		case "unhealthy":
			r.Unhealthy = p.str()
		case "fingerprint":
			r.Fingerprint = p.str()
		case "stop_signal":
			r.StopSignal = int(p.int(strconv.IntSize))
		case "stop_timeout":
			r.StopTimeout = time.Duration(p.int(64))
		case "run_dir_full":
			r.RunDirFull = p.timeOrNull()
		default:
			return false
		}
		return true
	})
	p.space()
	return r, p.ok && p.i == len(p.b)
}

// recordParser reads the JSON of a record. Once ok is false, it reads
// nothing more and every value it returns is zero.
type recordParser struct {
	b  []byte
	i  int
	ok bool
}

func (p *recordParser) fail() { p.ok, p.i = false, len(p.b) }

func (p *recordParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

// next skips space and takes c, which must come next.
func (p *recordParser) next(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads an object, handing each key to field, which reads its
// value and reports whether it knows the key.
func (p *recordParser) object(field func(key string) bool) {
	if !p.next('{') {
		p.fail()
		return
	}
	if p.next('}') {
		return
	}
	var seen [32]string
	for n := 0; p.ok; n++ {
		p.space()
		key := p.str()
		if n == len(seen) || !p.next(':') {
			p.fail()
			return
		}
		for _, k := range seen[:n] {
			if k == key {
				p.fail()
				return
			}
		}
		seen[n] = key
		if !field(key) {
			p.fail()
			return
		}
		if p.next('}') {
			return
		}
		if !p.next(',') {
			p.fail()
		}
	}
}

// quoted reads a string with neither escapes nor control characters,
// and returns it with its quotes.
func (p *recordParser) quoted() []byte {
	p.space()
	if p.i == len(p.b) || p.b[p.i] != '"' {
		p.fail()
		return nil
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			q := p.b[p.i : j+1]
			if !utf8.Valid(q) {
				p.fail()
				return nil
			}
			p.i = j + 1
			return q
		case c == '\\' || c < 0x20:
			p.fail()
			return nil
		}
	}
	p.fail()
	return nil
}

func (p *recordParser) str() string {
	q := p.quoted()
	if len(q) < 2 {
		return ""
	}
	return string(q[1 : len(q)-1])
}

func (p *recordParser) time() time.Time {
	var t time.Time
	if q := p.quoted(); p.ok && t.UnmarshalJSON(q) != nil {
		p.fail()
	}
	return t
}

func (p *recordParser) timeOrNull() *time.Time {
	if p.null() {
		return nil
	}
	t := p.time()
	return &t
}

// literal takes word if it comes next.
func (p *recordParser) literal(word string) bool {
	p.space()
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *recordParser) null() bool { return p.literal("null") }

func (p *recordParser) bool() bool {
	switch {
	case p.literal("true"):
		return true
	case !p.literal("false"):
		p.fail()
	}
	return false
}

// digits returns the integer literal that comes next: an optional minus
// (when signed) and digits without a leading zero, not followed by a
// fraction or an exponent.
func (p *recordParser) digits(signed bool) string {
	p.space()
	start := p.i
	if signed && p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	first := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	switch {
	case p.i == first, p.b[first] == '0' && p.i > first+1:
		p.fail()
	case p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E'):
		p.fail()
	}
	if !p.ok {
		return ""
	}
	return string(p.b[start:p.i])
}

func (p *recordParser) int(bits int) int64 {
	s := p.digits(true)
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		p.fail()
	}
	return v
}

func (p *recordParser) uint() uint64 {
	s := p.digits(false)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		p.fail()
	}
	return v
}

func (p *recordParser) identity() (id proc.Identity) {
	p.object(func(key string) bool {
		switch key {
		case "pid":
			id.PID = int(p.int(strconv.IntSize))
		case "start_ticks":
			id.StartTicks = p.uint()
		case "boot_id":
			id.BootID = p.str()
		default:
			return false
		}
		return true
	})
	return id
}

func (p *recordParser) exit() (e proc.ExitStatus) {
	p.object(func(key string) bool {
		switch key {
		case "code":
			e.Code = int(p.int(strconv.IntSize))
		case "signal":
			e.Signal = p.str()
		default:
			return false
		}
		return true
	})
	return e
}

func (p *recordParser) pidCount() (c proc.PIDCount) {
	p.object(func(key string) bool {
		switch key {
		case "forks":
			c.Forks = p.uint()
		case "threads":
			c.Threads = p.uint()
		case "pid_max":
			c.PIDMax = p.uint()
		default:
			return false
		}
		return true
	})
	return c
}

package drift

import (
	"strconv"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/jsonquote"
)

// appendSpec appends s as json.Marshal writes it, field by field: the
// fingerprints recorded by earlier launches hash those bytes, and a
// status, in a fresh process, would spend half a millisecond having
// encoding/json work out launchSpec's types by reflection first.
// TestSpecsAreWrittenAsEncodingJSONWritesThem holds it to json.Marshal.
func appendSpec(b []byte, s *launchSpec) []byte {
	b = append(b, `{"Command":`...)
	b = appendStrings(b, s.Command)
	b = append(b, `,"Shell":`...)
	b = strconv.AppendBool(b, s.Shell)
	b = appendField(b, "Dir", s.Dir)
	b = append(b, `,"SharedEnv":`...)
	b = appendVars(b, s.SharedEnv)
	b = appendField(b, "SharedFile", s.SharedFile)
	b = append(b, `,"Env":`...)
	b = appendVars(b, s.Env)
	b = appendField(b, "EnvFile", s.EnvFile)
	b = appendField(b, "User", s.User)
	b = appendField(b, "Group", s.Group)
	b = append(b, `,"Limits":`...)
	b = appendLimits(b, s.Limits)
	b = append(b, `,"Umask":`...)
	if s.Umask == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, uint64(*s.Umask), 10)
	}
	b = append(b, `,"Ready":`...)
	b = appendReady(b, s.Ready)
	return append(b, '}')
}

// appendField appends ,"name":value.
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return jsonquote.Append(b, value)
}

func appendStrings(b []byte, list []string) []byte {
	return appendList(b, list, jsonquote.Append)
}

func appendVars(b []byte, vars config.Vars) []byte {
	return appendList(b, vars, func(b []byte, v config.Var) []byte {
		b = append(b, `{"Key":`...)
		b = jsonquote.Append(b, v.Key)
		b = appendField(b, "Value", v.Value)
		return append(b, '}')
	})
}

// appendList appends list as a JSON array (null when nil), each element
// by appendElem.
func appendList[T any](b []byte, list []T, appendElem func([]byte, T) []byte) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendElem(b, e)
	}
	return append(b, ']')
}

func appendLimits(b []byte, l *config.Limits) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"NoFile":`...)
	b = appendLimit(b, l.NoFile)
	b = append(b, `,"NProc":`...)
	b = appendLimit(b, l.NProc)
	b = append(b, `,"Core":`...)
	b = appendLimit(b, l.Core)
	return append(b, '}')
}

func appendLimit(b []byte, l *config.Limit) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	return strconv.AppendUint(b, uint64(*l), 10)
}

func appendReady(b []byte, r *config.Ready) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"TCP":`...)
	b = jsonquote.Append(b, r.TCP)
	b = appendField(b, "HTTP", r.HTTP)
	b = append(b, `,"Exec":`...)
	b = appendStrings(b, r.Exec)
	b = appendField(b, "Log", r.Log)
	if r.Send != "" {
		b = appendField(b, "Send", r.Send)
	}
	if r.Expect != "" {
		b = appendField(b, "Expect", r.Expect)
	}
	b = append(b, `,"Timeout":`...)
	b = strconv.AppendInt(b, int64(r.Timeout), 10)
	b = append(b, `,"LogPattern":`...)
	if r.LogPattern == nil {
		b = append(b, "null"...)
	} else {
		b = jsonquote.Append(b, r.LogPattern.String())
	}
	return append(b, '}')
}

package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/daemonctl/daemonctl/internal/lifecycle"
)

// HostOutcomes is one host's part of a cluster command's --json: what its
// daemonctl said it did to each service (its own --json), or why it could
// not be asked.
type HostOutcomes struct {
	Host    string              `json:"host"`
	Error   *string             `json:"error"`
	Results []lifecycle.Outcome `json:"results"`
}

// Outcomes gathers, step by step, what each host answered to a command
// run with --json.
type Outcomes struct {
	hosts map[string]*HostOutcomes
}

func (o *Outcomes) host(name string) *HostOutcomes {
	if o.hosts == nil {
		o.hosts = map[string]*HostOutcomes{}
	}
	h, ok := o.hosts[name]
	if !ok {
		h = &HostOutcomes{Host: name, Results: []lifecycle.Outcome{}}
		o.hosts[name] = h
	}
	return h
}

// Add takes in one step's answers.
func (o *Outcomes) Add(step Step) {
	for _, res := range step.Results {
		h := o.host(res.Host)
		var answer struct {
			Results []lifecycle.Outcome `json:"results"`
		}
		switch {
		case res.Err != nil:
			msg := res.Err.Error()
			h.Error = &msg
		case json.Unmarshal(res.Stdout, &answer) != nil:
			msg := fmt.Sprintf("no results from daemonctl (exit %d): %s", res.Code, lastLine(res.Stderr, "no output"))
			h.Error = &msg
		default:
			h.Results = append(h.Results, answer.Results...)
		}
	}
}

// NotAttempted notes, from the error a cluster command ended with, the
// services on each host whose turn never came.
func (o *Outcomes) NotAttempted(r *Runner, err error) {
	var failed *FailedError
	var roll *RollError
	switch {
	case errors.As(err, &failed) && len(failed.Skipped) > 0:
		targets, hosts, terr := r.Targets(failed.Skipped)
		if terr == nil {
			o.notAttempted(hosts, targets)
		}
	case errors.As(err, &roll):
		for _, b := range roll.Untouched {
			o.notAttempted(b.Hosts, b.Targets)
		}
	}
}

func (o *Outcomes) notAttempted(hosts []string, targets map[string][]string) {
	for _, name := range hosts {
		h := o.host(name)
		for _, s := range targets[name] {
			h.Results = append(h.Results, lifecycle.Outcome{Service: s, Action: lifecycle.ActionNotAttempted})
		}
	}
}

// List returns every host's outcomes in the order hostOrder gives (the
// config's).
func (o *Outcomes) List(hostOrder []string) []HostOutcomes {
	out := []HostOutcomes{}
	for _, name := range hostOrder {
		if h, ok := o.hosts[name]; ok {
			out = append(out, *h)
		}
	}
	return out
}

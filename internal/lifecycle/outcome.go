package lifecycle

import (
	"errors"
	"slices"
)

// What a command did to a service, as --json reports it.
const (
	ActionStarted        = "started"
	ActionAlreadyRunning = "already_running"
	ActionRestarted      = "restarted"
	ActionStopped        = "stopped"
	ActionNotRunning     = "not_running"
	ActionFailed         = "failed"
	// ActionNotAttempted is a cluster command's: the service's turn never
	// came, because an earlier step failed.
	ActionNotAttempted = "not_attempted"
)

// Outcome is what a command did to one service.
type Outcome struct {
	Service string `json:"service"`
	Action  string `json:"action"`
	Error   string `json:"error,omitempty"`
}

// did notes what was done to service name; a later note replaces an
// earlier one (a restart's stop, then its start).
func (m *Manager) did(name, action string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outcomes == nil {
		m.outcomes = map[string]string{}
	}
	if _, ok := m.outcomes[name]; !ok {
		m.order = append(m.order, name)
	}
	m.outcomes[name] = action
}

// Outcomes returns what the manager's commands did to each service, in
// the order they did it, with the failures err holds (a ServiceError or
// Failures) as failed.
func (m *Manager) Outcomes(err error) []Outcome {
	failed := map[string]string{}
	var failures Failures
	var one *ServiceError
	switch {
	case errors.As(err, &failures):
	case errors.As(err, &one):
		failures = Failures{one}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	order := slices.Clone(m.order)
	for _, f := range failures {
		failed[f.Service] = f.Err.Error()
		if !slices.Contains(order, f.Service) {
			order = append(order, f.Service)
		}
	}
	out := make([]Outcome, 0, len(order))
	for _, name := range order {
		if msg, ok := failed[name]; ok {
			out = append(out, Outcome{Service: name, Action: ActionFailed, Error: msg})
			continue
		}
		out = append(out, Outcome{Service: name, Action: m.outcomes[name]})
	}
	return out
}

// relabel turns what services of names were noted as from into to: a
// restart's services were started, which for it means restarted.
func (m *Manager) relabel(names []string, from, to string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if m.outcomes[n] == from {
			m.outcomes[n] = to
		}
	}
}

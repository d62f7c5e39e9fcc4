package cluster

import (
	"context"
	"fmt"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/drift"
)

// Drift is a host's service whose settings differ from this config's.
type Drift struct {
	Host, Service string
	// Keys are the settings that differ ("env.JAVA_HOME"), with each
	// side's value, secrets masked.
	Keys        []string
	Here, There map[string]string
}

// Compare sets each host's settings beside those cfg (the local config)
// gives the same services, and returns the differences in host order.
func Compare(cfg *config.Config, hosts []HostStatus) ([]Drift, error) {
	local := map[string]drift.ServiceSettings{}
	var out []Drift
	for _, h := range hosts {
		for _, there := range h.Settings {
			s := cfg.Services[there.Name]
			if s == nil {
				out = append(out, Drift{Host: h.Host, Service: there.Name, Keys: []string{"(not in this config)"}})
				continue
			}
			here, ok := local[s.Name]
			if !ok {
				var err error
				if here, err = drift.Settings(cfg, s); err != nil {
					return nil, fmt.Errorf("%s: %w", s.Name, err)
				}
				local[s.Name] = here
			}
			if here.Hash == there.Hash {
				continue
			}
			d := Drift{Host: h.Host, Service: s.Name, Keys: drift.Diff(here, there), Here: map[string]string{}, There: map[string]string{}}
			for _, k := range d.Keys {
				d.Here[k], d.There[k] = valueOrUnset(here, k), valueOrUnset(there, k)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

func valueOrUnset(s drift.ServiceSettings, key string) string {
	if v, ok := s.Settings[key]; ok {
		return v.Value
	}
	return "(unset)"
}

// Diff asks every host that runs one of names (all when none is named)
// for its services' settings and returns how they differ from the local
// config's, with the hosts that could not be asked or whose daemonctl
// does not show its settings.
func (r *Runner) Diff(ctx context.Context, names []string) ([]Drift, []HostStatus, error) {
	hosts, _, err := r.Status(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	var unreachable []HostStatus
	for _, h := range hosts {
		if h.Error == nil && h.Settings == nil {
			msg := fmt.Sprintf("its daemonctl (%s) does not show its settings: upgrade it to compare", h.Version)
			h.Error = &msg
		}
		if h.Error != nil {
			unreachable = append(unreachable, h)
		}
	}
	drifts, err := Compare(r.Config, hosts)
	return drifts, unreachable, err
}

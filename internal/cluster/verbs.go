package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/drift"
	"github.com/daemonctl/daemonctl/internal/state"
)

// Step is one stage of an ordered cluster command: every host's share of
// one level of the dependency graph, run at once.
type Step struct {
	Verb    string
	Results []Result
}

// Start starts names (all when none is named) and what they depend on,
// level by level along the dependency graph: a level starts on every host
// at once, each host with `start --no-deps` for its share, and only once
// the level before it is ready everywhere, since a dependency may run on
// another host. A level with a failure ends the start; report sees each
// step as it finishes.
func (r *Runner) Start(ctx context.Context, names []string, report func(Step)) error {
	levels, err := r.levels(names, true)
	if err != nil {
		return err
	}
	return r.inLevels(ctx, "start", []string{"--no-deps"}, levels, report)
}

// Stop stops names (all when none is named) level by level, dependents
// first.
// A non-zero timeout overrides each service's stop_timeout.
func (r *Runner) Stop(ctx context.Context, names []string, timeout time.Duration, report func(Step)) error {
	levels, err := r.levels(names, false)
	if err != nil {
		return err
	}
	for i, j := 0, len(levels)-1; i < j; i, j = i+1, j-1 {
		levels[i], levels[j] = levels[j], levels[i]
	}
	var args []string
	if timeout > 0 {
		args = []string{"--timeout", timeout.String()}
	}
	return r.inLevels(ctx, "stop", args, levels, report)
}

// Restart stops then starts names across the cluster.
func (r *Runner) Restart(ctx context.Context, names []string, report func(Step)) error {
	if err := r.Stop(ctx, names, 0, report); err != nil {
		return err
	}
	return r.Start(ctx, names, report)
}

// Update brings each host's share of names (all when none is named) in
// line with the host's config, level by level as Start does: each host
// runs `update --no-deps` for its share, which starts what it never
// started, restarts what runs from settings its config no longer has,
// and stops what its config no longer names.
func (r *Runner) Update(ctx context.Context, names []string, report func(Step)) error {
	levels, err := r.levels(names, false)
	if err != nil {
		return err
	}
	return r.inLevels(ctx, "update", []string{"--no-deps"}, levels, report)
}

// FailedError names the hosts where a cluster command failed.
type FailedError struct {
	Verb  string
	Hosts []string
	// Skipped are the services not acted on because an earlier level
	// failed.
	Skipped []string
}

func (e *FailedError) Error() string {
	msg := fmt.Sprintf("cluster %s failed on %s", e.Verb, strings.Join(e.Hosts, ", "))
	if len(e.Skipped) > 0 {
		msg += "; not attempted: " + strings.Join(e.Skipped, ", ")
	}
	return msg
}

// inLevels runs verb on each level in turn, stopping at the first level
// with a failure.
func (r *Runner) inLevels(ctx context.Context, verb string, args []string, levels [][]string, report func(Step)) error {
	for i, level := range levels {
		targets, hosts, err := r.Targets(level)
		if err != nil {
			continue // no host runs this level's services
		}
		results := r.runOn(ctx, targets, hosts, verb, args)
		report(Step{Verb: verb, Results: results})
		if failed := Failed(results); len(failed) > 0 {
			var skipped []string
			for _, rest := range levels[i+1:] {
				skipped = append(skipped, rest...)
			}
			return &FailedError{Verb: verb, Hosts: failed, Skipped: skipped}
		}
	}
	return nil
}

// levels groups names (with their dependencies when withDeps) by depth in
// the dependency graph: level 0 depends on nothing in the set, level n on
// something in level n-1 (config.Levels).
func (r *Runner) levels(names []string, withDeps bool) ([][]string, error) {
	cfg := r.Config
	selected, err := cfg.Select(names)
	if err != nil {
		return nil, err
	}
	if withDeps {
		selected = cfg.WithDependencies(selected)
	}
	var levels [][]string
	for _, level := range config.Levels(selected) {
		var group []string
		for _, s := range level {
			group = append(group, s.Name)
		}
		levels = append(levels, group)
	}
	if _, _, err := r.Targets(names); err != nil {
		return nil, err
	}
	return levels, nil
}

// VersionBeforeSettings is the version shown for a host whose daemonctl
// predates `status --settings`: its state is known, its settings not.
const VersionBeforeSettings = "older (no status --settings)"

// askOlderPlainly asks again, with plain `status --json`, the hosts whose
// daemonctl refused `--settings` as an unknown flag: a cluster in the
// middle of an upgrade, where showing versions matters most. Their
// answers replace the refusals; they carry no version, which Status
// shows as VersionBeforeSettings.
func (r *Runner) askOlderPlainly(ctx context.Context, targets map[string][]string, results []Result) {
	var older []string
	index := map[string]int{}
	for i, res := range results {
		if res.Err == nil && res.Code == 2 && strings.Contains(string(res.Stderr), "unknown flag: --settings") {
			older = append(older, res.Host)
			index[res.Host] = i
		}
	}
	for _, res := range r.runOn(ctx, targets, older, "status", []string{"--json"}) {
		results[index[res.Host]] = res
	}
}

// HostStatus is one host's part of `cluster status --json`.
type HostStatus struct {
	Host     string         `json:"host"`
	Error    *string        `json:"error"`
	Services []state.Status `json:"services"`
	// Version is the host's daemonctl's.
	Version string `json:"version"`
	// Settings are the host's services' launch settings, secrets masked.
	Settings []drift.ServiceSettings `json:"-"`
	// ConfigDiffers names the services whose settings on the host (its
	// config, its env files) differ from the local config's: `cluster
	// diff` shows how.
	ConfigDiffers []string `json:"config_differs"`
}

// Status asks every host that runs one of names for its status, all at
// once (up to ssh.parallel), and returns the answers in host order with
// the LSB exit code of the whole: worst wins, and a host that cannot be
// asked counts as unknown (4).
func (r *Runner) Status(ctx context.Context, names []string) ([]HostStatus, int, error) {
	targets, hosts, err := r.Targets(names)
	if err != nil {
		return nil, 0, err
	}
	results := r.runOn(ctx, targets, hosts, "status", []string{"--json", "--settings"})
	r.askOlderPlainly(ctx, targets, results)
	out := make([]HostStatus, len(results))
	var all []state.Status
	unreachable := false
	for i, res := range results {
		hs := HostStatus{Host: res.Host, Services: []state.Status{}, ConfigDiffers: []string{}}
		var answer struct {
			Services []state.Status          `json:"services"`
			Version  string                  `json:"version"`
			Settings []drift.ServiceSettings `json:"settings"`
		}
		switch {
		case res.Err != nil:
			msg := res.Err.Error()
			hs.Error, unreachable = &msg, true
		case json.Unmarshal(res.Stdout, &answer) != nil:
			msg := fmt.Sprintf("no status from daemonctl (exit %d): %s", res.Code, lastLine(res.Stderr, "no output"))
			hs.Error, unreachable = &msg, true
		default:
			// only a daemonctl from before --settings answers without a version
			hs.Services, hs.Version, hs.Settings = answer.Services, cmp.Or(answer.Version, VersionBeforeSettings), answer.Settings
			all = append(all, answer.Services...)
		}
		out[i] = hs
	}
	drifts, err := Compare(r.Config, out)
	if err != nil {
		return nil, 0, err
	}
	for i := range out {
		for _, d := range drifts {
			if d.Host == out[i].Host {
				out[i].ConfigDiffers = append(out[i].ConfigDiffers, d.Service)
			}
		}
	}
	code := state.ExitCode(all)
	if unreachable {
		code = state.ExitCode(append(all, state.Status{State: state.Unknown}))
	}
	return out, code, nil
}

package cluster

import (
	"context"
	"fmt"
	"strings"
)

// Batch is one step of a rolling restart: services on a few hosts,
// restarted together.
type Batch struct {
	// Hosts are the hosts restarted at once, each with its services.
	Hosts   []string
	Targets map[string][]string
}

// String names the batch's hosts with their services: "h1 (registry)".
func (b Batch) String() string {
	parts := make([]string, len(b.Hosts))
	for i, h := range b.Hosts {
		parts[i] = h + " (" + strings.Join(b.Targets[h], ", ") + ")"
	}
	return strings.Join(parts, ", ")
}

// RollPlan is the batches of a rolling restart of names (all when none is
// named), in order: dependency level by level across the cluster (the
// registry's hosts, then the masters, then the workers and the rest),
// and within a level size hosts at a time in the config's host order, or
// fewer where a service of the level says so (max_unavailable).
func (r *Runner) RollPlan(names []string, size int) ([]Batch, error) {
	levels, err := r.levels(names, false)
	if err != nil {
		return nil, err
	}
	var plan []Batch
	for _, level := range levels {
		targets, hosts, err := r.Targets(level)
		if err != nil {
			continue // no host runs this level's services
		}
		n := max(size, 1)
		for _, name := range level {
			if m := r.Config.Services[name].MaxUnavailable; m != nil {
				n = min(n, *m)
			}
		}
		for len(hosts) > 0 {
			n := min(n, len(hosts))
			plan = append(plan, Batch{Hosts: hosts[:n], Targets: targets})
			hosts = hosts[n:]
		}
	}
	return plan, nil
}

// RollError is a rolling restart that ended at a batch whose services did
// not come back ready: what was done, what failed, what was not touched.
type RollError struct {
	Done, Failed, Untouched []Batch
	// FailedHosts are the hosts of the failed batch that failed.
	FailedHosts []string
}

// Error says where the roll stopped, then what was done, what failed and
// what was not touched, a line each.
func (e *RollError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster restart --rolling stopped: %s did not come back ready", strings.Join(e.FailedHosts, ", "))
	for _, part := range []struct {
		name    string
		batches []Batch
	}{{"done", e.Done}, {"failed batch", e.Failed}, {"not touched", e.Untouched}} {
		if len(part.batches) > 0 {
			fmt.Fprintf(&b, "\n  %s: %s", part.name, joinBatches(part.batches))
		}
	}
	return b.String()
}

func joinBatches(batches []Batch) string {
	parts := make([]string, len(batches))
	for i, b := range batches {
		parts[i] = b.String()
	}
	return strings.Join(parts, "; ")
}

// RollingRestart restarts names across the cluster batch by batch
// (RollPlan): each batch's hosts restart their share at once, with
// `restart --no-deps`, which returns once the services are ready again,
// and the next batch begins only when every host of this one succeeded.
// A quorum service (a ZooKeeper ensemble) so loses one member at a time,
// provided its readiness probe says it has rejoined, not just that its
// port is open. The first batch with a failure ends the restart with a
// RollError; report sees each batch as it finishes.
func (r *Runner) RollingRestart(ctx context.Context, names []string, size int, report func(Step)) error {
	plan, err := r.RollPlan(names, size)
	if err != nil {
		return err
	}
	for i, batch := range plan {
		results := r.runOn(ctx, batch.Targets, batch.Hosts, "restart", []string{"--no-deps"})
		report(Step{Verb: "restart", Results: results})
		if failed := Failed(results); len(failed) > 0 {
			return &RollError{Done: plan[:i], Failed: plan[i : i+1], Untouched: plan[i+1:], FailedHosts: failed}
		}
	}
	return nil
}

package lifecycle

import (
	"context"

	"github.com/daemonctl/daemonctl/internal/drift"
)

// UpdatePlan is what Update does to bring the running services in line
// with the config, by service name.
type UpdatePlan struct {
	Start   []string // in the config, never started here: added
	Stop    []string // no longer in the config, still held in run_dir
	Restart []string // running, but launched from another config
	Keep    []string // running as the config says, or left stopped
}

// UpdateOptions narrow what Update does.
type UpdateOptions struct {
	// Names, if any, are the services to start or restart (a host's
	// share of a cluster); services the config no longer names are
	// stopped either way.
	Names []string
	// NoDeps starts only those services, not what they depend on (which
	// may run on another host).
	NoDeps bool
}

// PlanUpdate works out what Update would do. A service that was stopped,
// or that died, is left as it is: update starts only services it never
// saw (supervisorctl's update and docker compose up do the same).
func (m *Manager) PlanUpdate(opts UpdateOptions) (UpdatePlan, error) {
	services, err := m.selectConfigured(opts.Names)
	if err != nil {
		return UpdatePlan{}, err
	}
	m.newScan()
	var (
		plan   UpdatePlan
		hasher drift.Hasher
	)
	for _, s := range services {
		o := m.observe(s)
		switch r := o.Record; {
		case r == nil && !o.Running():
			plan.Start = append(plan.Start, s.Name)
		case (o.Running() || o.Restarting()) && r.Fingerprint != "" && hasher.Fingerprint(m.cfg, s) != r.Fingerprint:
			plan.Restart = append(plan.Restart, s.Name)
		default:
			plan.Keep = append(plan.Keep, s.Name)
		}
	}
	for _, s := range m.removed() {
		plan.Stop = append(plan.Stop, s.Name)
	}
	return plan, nil
}

// Update carries out the plan: it stops the services the config no longer
// names, restarts the changed ones (each stopped, then started again in
// dependency order, each ready before its dependents), and starts the
// added ones with what they depend on. It returns the plan it carried
// out, and the first failure.
func (m *Manager) Update(ctx context.Context, opts UpdateOptions) (UpdatePlan, error) {
	plan, err := m.PlanUpdate(opts)
	if err != nil {
		return plan, err
	}
	start := m.starter(opts.NoDeps)
	var errs []error
	if len(plan.Stop) > 0 {
		errs = append(errs, m.Stop(ctx, plan.Stop, StopOptions{}))
	}
	if len(plan.Restart) > 0 {
		errs = append(errs, m.Restart(ctx, plan.Restart, RestartOptions{NoDeps: opts.NoDeps}))
	}
	if len(plan.Start) > 0 {
		errs = append(errs, start(ctx, plan.Start))
	}
	for _, err := range errs {
		if err != nil {
			return plan, err
		}
	}
	return plan, nil
}

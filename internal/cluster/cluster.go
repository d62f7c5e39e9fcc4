// Package cluster runs daemonctl commands across the hosts of a config's
// `hosts:` section over the system's OpenSSH client, so that users' ssh
// config, agents and jump hosts apply. Each host runs its own daemonctl
// against its own copy of the config; this package only decides which
// services each host acts on, in what order, how many hosts at once
// (levels, rolling batches), keeps one ssh connection per host
// (ControlMaster), and gathers what the hosts answered: output, JSON
// results, status, and the launch settings it compares with the local
// config's (drift).
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
)

// Result is what one host answered to one command.
type Result struct {
	Host string
	// Code is the remote daemonctl's exit code; -1 when it could not be
	// run at all (ssh failed to connect, or the command was cut short).
	Code   int
	Stdout []byte
	Stderr []byte
	// Err says why the host could not be asked, when it could not.
	Err error
}

// Runner runs daemonctl on the config's hosts, with the ssh from PATH.
type Runner struct {
	Config *config.Config
	// Limit, if set, keeps only the hosts it names: host names, or
	// patterns (path.Match: "worker*", "ds[12]"), as Ansible's --limit.
	Limit []string
	// RemoteArgs are added to every daemonctl command run on a host
	// ("--json").
	RemoteArgs []string

	controlOnce sync.Once
	controlDir  string
	controlErr  error
}

// UnknownHostError is a --hosts entry that names no host of the config.
type UnknownHostError struct{ Entry string }

func (e *UnknownHostError) Error() string {
	if strings.ContainsAny(e.Entry, "*?[") {
		return fmt.Sprintf("--hosts %q matches no host of the config", e.Entry)
	}
	return fmt.Sprintf("--hosts: unknown host %q", e.Entry)
}

// limited reports whether host h is among those r.Limit keeps, and
// checks that every entry of the limit keeps some host.
func (r *Runner) limited() (func(h string) bool, error) {
	if len(r.Limit) == 0 {
		return func(string) bool { return true }, nil
	}
	keep := map[string]bool{}
	for _, entry := range r.Limit {
		found := false
		for _, h := range r.Config.HostOrder {
			if ok, err := path.Match(entry, h); err == nil && ok {
				keep[h], found = true, true
			}
		}
		if !found {
			return nil, &UnknownHostError{Entry: entry}
		}
	}
	return func(h string) bool { return keep[h] }, nil
}

// ErrNoHosts is returned when the config has no hosts to act on.
var ErrNoHosts = errors.New("the config has no hosts: section")

// sshExitUnreachable is the exit status ssh(1) gives for its own errors
// (connection refused, authentication failed, host unknown).
const sshExitUnreachable = 255

// Targets returns, for each host in the config's order, the services of
// names (all when none is named) that the host runs. A host with none of
// them is left out.
func (r *Runner) Targets(names []string) (map[string][]string, []string, error) {
	if len(r.Config.HostOrder) == 0 {
		return nil, nil, ErrNoHosts
	}
	want := map[string]bool{}
	for _, n := range names {
		if r.Config.Services[n] == nil {
			return nil, nil, &config.UnknownServiceError{Name: n}
		}
		want[n] = true
	}
	kept, err := r.limited()
	if err != nil {
		return nil, nil, err
	}
	targets := map[string][]string{}
	var hosts []string
	for _, h := range r.Config.HostOrder {
		if !kept(h) {
			continue
		}
		var picked []string
		for _, s := range r.Config.Hosts[h].Services {
			if len(want) == 0 || want[s] {
				picked = append(picked, s)
			}
		}
		if len(picked) > 0 {
			targets[h] = picked
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, nil, fmt.Errorf("no host runs %s", strings.Join(names, ", "))
	}
	return targets, hosts, nil
}

// Run runs `daemonctl VERB ARGS... SERVICE...` on every host that runs
// one of names (all services when none is named), ssh.parallel hosts at a
// time, and returns each host's result in the config's host order.
func (r *Runner) Run(ctx context.Context, verb string, args, names []string) ([]Result, error) {
	targets, hosts, err := r.Targets(names)
	if err != nil {
		return nil, err
	}
	return r.runOn(ctx, targets, hosts, verb, args), nil
}

// runOn runs the command on hosts, each for its services in targets, at
// most ssh.parallel hosts at once.
func (r *Runner) runOn(ctx context.Context, targets map[string][]string, hosts []string, verb string, args []string) []Result {
	results := make([]Result, len(hosts))
	slots := make(chan struct{}, max(r.Config.SSH.Parallel, 1))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			results[i] = r.runOne(ctx, h, targets[h], verb, args)
		})
	}
	wg.Wait()
	return results
}

// runOne runs the command on one host.
func (r *Runner) runOne(ctx context.Context, host string, services []string, verb string, args []string) Result {
	res := Result{Host: host, Code: -1}
	words := append([]string{verb}, args...)
	words = append(words, r.RemoteArgs...)
	argv := r.sshArgv(r.Config.Hosts[host], append(words, services...))
	cmd := exec.CommandContext(ctx, "ssh", argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var exit *exec.ExitError
	switch {
	case err == nil:
		res.Code = 0
	case ctx.Err() != nil:
		res.Err = ctx.Err()
	case errors.As(err, &exit) && exit.ExitCode() == sshExitUnreachable:
		res.Err = fmt.Errorf("ssh %s: %s", r.Config.Hosts[host].Address, lastLine(res.Stderr, "exit status 255"))
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		res.Code = exit.ExitCode()
	default:
		res.Err = fmt.Errorf("ssh %s: %w", r.Config.Hosts[host].Address, err)
	}
	return res
}

func lastLine(b []byte, fallback string) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return fallback
}

// Failed lists the hosts whose command failed or could not be run.
func Failed(results []Result) []string {
	var out []string
	for _, res := range results {
		if res.Err != nil || res.Code != 0 {
			out = append(out, res.Host)
		}
	}
	return out
}

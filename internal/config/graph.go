package config

import (
	"fmt"
	"slices"
	"sort"
)

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// findCycle returns a dependency cycle as a path that starts and ends with
// the same service, or nil.
func (c *Config) findCycle() []string {
	const (
		unvisited = iota
		visiting
		done
	)
	mark := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(name string) []string {
		switch mark[name] {
		case visiting:
			i := slices.Index(stack, name)
			return append(slices.Clone(stack[i:]), name)
		case done:
			return nil
		}
		mark[name] = visiting
		stack = append(stack, name)
		for _, dep := range c.Services[name].DependsOn {
			if _, ok := c.Services[dep]; !ok || dep == name {
				continue
			}
			if cycle := visit(dep); cycle != nil {
				return cycle
			}
		}
		stack = stack[:len(stack)-1]
		mark[name] = done
		return nil
	}
	for _, name := range c.Order {
		if cycle := visit(name); cycle != nil {
			return cycle
		}
	}
	return nil
}

// Select returns the named services, or all of them in file order when no
// name is given. An unknown name is an error.
func (c *Config) Select(names []string) ([]*Service, error) {
	if len(names) == 0 {
		names = c.Order
	}
	out := make([]*Service, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		s, ok := c.Services[n]
		if !ok {
			return nil, &UnknownServiceError{Name: n}
		}
		if !seen[n] {
			out = append(out, s)
			seen[n] = true
		}
	}
	return out, nil
}

// UnknownServiceError is returned for a service name the config lacks.
type UnknownServiceError struct{ Name string }

func (e *UnknownServiceError) Error() string { return fmt.Sprintf("unknown service %q", e.Name) }

// WithDependencies returns services plus everything they depend on,
// transitively, in file order.
func (c *Config) WithDependencies(services []*Service) []*Service {
	need := map[string]bool{}
	var add func(string)
	add = func(name string) {
		if need[name] {
			return
		}
		need[name] = true
		for _, dep := range c.Services[name].DependsOn {
			add(dep)
		}
	}
	for _, s := range services {
		add(s.Name)
	}
	var out []*Service
	for _, name := range c.Order {
		if need[name] {
			out = append(out, c.Services[name])
		}
	}
	return out
}

// Dependents returns the names of the services that depend directly on name.
func (c *Config) Dependents(name string) []string {
	var out []string
	for _, n := range c.Order {
		if slices.Contains(c.Services[n].DependsOn, name) {
			out = append(out, n)
		}
	}
	return out
}

// Levels groups set by depth in the dependency graph, counting only
// dependencies inside set: level 0 depends on nothing in set, level n on
// something in level n-1 (and nothing deeper). Each level keeps set's
// order. Starting level by level, each once the one before is up, starts
// every service after what it depends on; stopping goes the other way.
func Levels(set []*Service) [][]*Service {
	in := map[string]*Service{}
	for _, s := range set {
		in[s.Name] = s
	}
	depth := map[string]int{}
	var depthOf func(s *Service) int
	depthOf = func(s *Service) int {
		if d, ok := depth[s.Name]; ok {
			return d
		}
		d := 0
		for _, dep := range s.DependsOn {
			if t, ok := in[dep]; ok && dep != s.Name {
				d = max(d, depthOf(t)+1)
			}
		}
		depth[s.Name] = d
		return d
	}
	var levels [][]*Service
	for _, s := range set {
		d := depthOf(s)
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], s)
	}
	return levels
}

// TopoOrder is set with every service after what it depends on: the
// levels of Levels, one after the other.
func TopoOrder(set []*Service) []*Service {
	var out []*Service
	for _, level := range Levels(set) {
		out = append(out, level...)
	}
	return out
}

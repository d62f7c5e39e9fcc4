package config

import (
	"fmt"
	"testing"
)

func TestLevels(t *testing.T) {
	svc := func(name string, deps ...string) *Service { return &Service{Name: name, DependsOn: deps} }
	// zk <- master <- api, zk <- worker, alert alone; api also needs worker.
	zk, master, worker := svc("zk"), svc("master", "zk"), svc("worker", "zk")
	api, alert := svc("api", "master", "worker"), svc("alert")
	set := []*Service{api, alert, worker, master, zk}
	got := fmt.Sprint(names(Levels(set)...))
	if want := "[[alert zk] [worker master] [api]]"; got != want {
		t.Errorf("Levels = %s, want %s", got, want)
	}
	// Dependencies outside the set do not count.
	if got := fmt.Sprint(names(Levels([]*Service{api, master})...)); got != "[[master] [api]]" {
		t.Errorf("Levels of a part = %s", got)
	}
	order := TopoOrder(set)
	pos := map[string]int{}
	for i, s := range order {
		pos[s.Name] = i
	}
	for _, s := range set {
		for _, d := range s.DependsOn {
			if pos[d] > pos[s.Name] {
				t.Errorf("TopoOrder puts %s before its dependency %s: %v", s.Name, d, names(order))
			}
		}
	}
}

func names(levels ...[]*Service) [][]string {
	var out [][]string
	for _, l := range levels {
		var ns []string
		for _, s := range l {
			ns = append(ns, s.Name)
		}
		out = append(out, ns)
	}
	return out
}

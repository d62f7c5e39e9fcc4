// Package systemd writes the systemd units that run a config's services
// at boot: one Type=notify unit per service, whose ExecStart is `daemonctl
// run SERVICE` (package foreground speaks sd_notify), ordered and tied by
// the config's depends_on, with the restart policy, stop timeout, user,
// group, limits and umask the config gives.
package systemd

import (
	"fmt"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/internal/config"
)

// stopMargin is added to stop_timeout for TimeoutStopSec: daemonctl
// SIGKILLs the tree itself after stop_timeout, and needs a moment more to
// see it gone and exit before systemd would kill it.
const stopMargin = 10 * time.Second

// startMargin is added to the readiness wait for TimeoutStartSec.
const startMargin = 30 * time.Second

// UnitName is the unit that runs service name.
func UnitName(name string) string { return "daemonctl-" + name + ".service" }

// Unit renders the unit that runs service s of cfg with the daemonctl
// binary at daemonctl (an absolute path).
func Unit(cfg *config.Config, s *config.Service, daemonctl string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by `daemonctl export systemd` from %s.", cfg.Path)
	w("[Unit]")
	w("Description=%s, run by daemonctl (%s)", s.Name, cfg.Path)
	after := []string{"network-online.target"}
	var requires []string
	for _, dep := range s.DependsOn {
		after = append(after, UnitName(dep))
		requires = append(requires, UnitName(dep))
	}
	w("Wants=network-online.target")
	w("After=%s", strings.Join(after, " "))
	if len(requires) > 0 {
		w("Requires=%s", strings.Join(requires, " "))
	}
	w("")
	w("[Service]")
	w("Type=notify")
	w("NotifyAccess=main")
	w("ExecStart=%s --config %s run %s", quote(daemonctl), quote(cfg.Path), s.Name)
	w("Restart=%s", map[config.RestartPolicy]string{config.RestartNever: "no", "on-failure": "on-failure", "always": "always"}[s.Restart])
	if s.Restart != config.RestartNever {
		w("RestartSec=%s", seconds(s.RestartDelay.Std()))
	}
	wait := s.StartGrace.Std()
	if s.Ready != nil {
		wait = s.Ready.Timeout.Std()
	}
	w("TimeoutStartSec=%s", seconds(wait+startMargin))
	w("TimeoutStopSec=%s", seconds(s.StopTimeout.Std()+stopMargin))
	w("KillMode=mixed")
	if s.User != "" {
		w("User=%s", s.User)
	}
	if s.Group != "" {
		w("Group=%s", s.Group)
	}
	if l := s.Limits; l != nil {
		for _, x := range []struct {
			key string
			v   *config.Limit
		}{{"LimitNOFILE", l.NoFile}, {"LimitNPROC", l.NProc}, {"LimitCORE", l.Core}} {
			if x.v != nil {
				w("%s=%s", x.key, limit(*x.v))
			}
		}
	}
	if s.Umask != nil {
		w("UMask=%04o", uint32(*s.Umask))
	}
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String()
}

func seconds(d time.Duration) string {
	return strings.TrimSuffix(fmt.Sprintf("%.3f", d.Seconds()), ".000") + "s"
}

func limit(l config.Limit) string {
	if l == config.Unlimited {
		return "infinity"
	}
	return l.String()
}

// quote quotes a path for a systemd command line when it needs it.
func quote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\$%;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", "$$", "%", "%%").Replace(s) + `"`
}

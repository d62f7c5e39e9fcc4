// Package privilege runs a service as the user and group its config asks
// for, with the umask and resource limits it is to inherit (package
// inherit). Go's ForkExec can change credentials but neither rlimits nor
// the umask of one child, so such a service is started through
// daemonctl's hidden `__exec` helper: it sets the umask and limits while
// it may still raise them, drops to the group (with the user's
// supplementary groups) and the user, then execs the server. A service
// that needs none of this is launched directly.
package privilege

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/daemonctl/daemonctl/internal/config"
	"github.com/daemonctl/daemonctl/internal/inherit"
	"github.com/daemonctl/daemonctl/internal/proc"
)

// HelperCmd is the hidden command that applies a Spec and execs the service.
const HelperCmd = "__exec"

// Spec is what a service is run as.
type Spec struct {
	UID, GID int
	Groups   []int // supplementary groups
	Attrs    inherit.Attrs
	asOther  bool // a user or group was set
}

// Attrs returns the umask and limits service s runs with when the command
// that asked for it has caller's: the caller's, overridden by what s's
// config sets. A nil caller (a supervisor taking over a service it was
// not asked for) means this process's own.
func Attrs(s *config.Service, caller *inherit.Attrs) (inherit.Attrs, error) {
	var a inherit.Attrs
	if caller != nil {
		a = *caller
	} else {
		own, err := inherit.Children()
		if err != nil {
			return a, err
		}
		a = own
	}
	if s.Umask != nil {
		a.Umask = uint32(*s.Umask)
	}
	if l := s.Limits; l != nil {
		for res, v := range map[int]*config.Limit{unix.RLIMIT_NOFILE: l.NoFile, unix.RLIMIT_NPROC: l.NProc, unix.RLIMIT_CORE: l.Core} {
			if v != nil {
				a = a.With(res, uint64(*v), uint64(*v))
			}
		}
	}
	return a, nil
}

// Needed reports whether service s, to run with attrs, needs the helper:
// it runs as another user or group, or attrs are not what a child of this
// process gets anyway.
func Needed(s *config.Service, attrs inherit.Attrs) bool {
	if s.User != "" || s.Group != "" {
		return true
	}
	own, err := inherit.Children()
	return err != nil || !own.Equal(attrs)
}

// Resolve looks up s's user and group, to run with attrs. A caller that
// is not root may only ask for itself.
func Resolve(s *config.Service, attrs inherit.Attrs) (*Spec, error) {
	spec := &Spec{UID: os.Geteuid(), GID: os.Getegid(), Attrs: attrs}
	if s.User != "" {
		u, err := lookupUser(s.User)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", s.User, err)
		}
		spec.UID, _ = strconv.Atoi(u.Uid)
		spec.GID, _ = strconv.Atoi(u.Gid)
		gids, err := u.GroupIds()
		if err != nil {
			return nil, fmt.Errorf("user %q: groups: %w", s.User, err)
		}
		for _, g := range gids {
			if n, err := strconv.Atoi(g); err == nil {
				spec.Groups = append(spec.Groups, n)
			}
		}
		spec.asOther = true
	}
	if s.Group != "" {
		g, err := lookupGroup(s.Group)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", s.Group, err)
		}
		spec.GID, _ = strconv.Atoi(g.Gid)
		spec.asOther = true
	}
	if spec.asOther && os.Geteuid() != 0 && (spec.UID != os.Geteuid() || spec.GID != os.Getegid()) {
		return nil, fmt.Errorf("running as uid %d: only root can start a service as another user or group", os.Geteuid())
	}
	return spec, nil
}

// Credential is what a process runs as to run as user name: its uid, its
// primary group and its supplementary groups.
func Credential(name string) (*syscall.Credential, error) {
	u, err := lookupUser(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if n, err := strconv.Atoi(g); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred, nil
}

// LoginEnv is what a login as user name sets, as su - and systemd's
// User= do: HOME, USER and LOGNAME from the passwd entry.
func LoginEnv(name string) ([][2]string, error) {
	u, err := lookupUser(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return [][2]string{{"HOME", u.HomeDir}, {"USER", u.Username}, {"LOGNAME", u.Username}}, nil
}

func lookupUser(name string) (*user.User, error) {
	if _, err := strconv.Atoi(name); err == nil {
		return user.LookupId(name)
	}
	return user.Lookup(name)
}

func lookupGroup(name string) (*user.Group, error) {
	if _, err := strconv.Atoi(name); err == nil {
		return user.LookupGroupId(name)
	}
	return user.LookupGroup(name)
}

// args renders the spec as the helper's flags, followed by "--" and argv.
func (sp *Spec) args(argv []string) []string {
	args := []string{"--uid", strconv.Itoa(sp.UID), "--gid", strconv.Itoa(sp.GID)}
	if sp.asOther {
		groups := make([]string, len(sp.Groups))
		for i, g := range sp.Groups {
			groups[i] = strconv.Itoa(g)
		}
		args = append(args, "--drop", "--groups", strings.Join(groups, ","))
	}
	args = append(args, "--attrs", sp.Attrs.String())
	return append(append(args, "--"), argv...)
}

// apply sets the umask and limits, then (with drop) the groups, group and
// user, of this process. The order matters: limits first, while they may
// still be raised; the user last, since after it nothing can be changed.
func apply(uid, gid int, groups []int, drop bool, attrs inherit.Attrs) error {
	if err := attrs.Apply(); err != nil {
		return err
	}
	if !drop {
		return nil
	}
	// syscall's versions change every thread of the process, as a
	// multi-threaded Go program needs (x/sys/unix's change one thread).
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}

// Spawn launches spec's command as sp says, through daemonctl's hidden
// helper: the running daemonctl re-executed as `daemonctl __exec FLAGS --
// PATH ARGV...`, which Helper decodes in the new process.
func (sp *Spec) Spawn(spec proc.Spec) (proc.Identity, error) {
	path, err := spec.Path()
	if err != nil {
		return proc.Identity{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return proc.Identity{}, err
	}
	helper := spec
	helper.Argv = append([]string{"daemonctl", HelperCmd}, sp.args(append([]string{path}, spec.Argv...))...)
	return proc.SpawnDetached(helper, self)
}

// Helper is the helper's side of Spawn: args are what follows
// `daemonctl __exec`. It applies the limits, group and user they name and
// execs the server, returning only if that fails.
func Helper(args []string) error {
	fs := flag.NewFlagSet(HelperCmd, flag.ContinueOnError)
	uid := fs.Int("uid", 0, "user to run as")
	gid := fs.Int("gid", 0, "group to run as")
	groups := fs.String("groups", "", "supplementary groups")
	drop := fs.Bool("drop", false, "change user, group and groups")
	attrs := fs.String("attrs", "", "umask and resource limits (inherit.Attrs.String)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) < 2 {
		return errors.New("usage: " + HelperCmd + " [flags] -- PATH ARGV...")
	}
	var gids []int
	for _, g := range strings.Split(*groups, ",") {
		if n, err := strconv.Atoi(g); err == nil {
			gids = append(gids, n)
		}
	}
	if *attrs == "" {
		return errors.New(HelperCmd + ": missing --attrs")
	}
	a, err := inherit.Parse(*attrs)
	if err != nil {
		return err
	}
	if err := apply(*uid, *gid, gids, *drop, a); err != nil {
		return err
	}
	err = syscall.Exec(argv[0], argv[1:], os.Environ())
	return fmt.Errorf("exec %s: %w", argv[0], err)
}

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/daemonctl/daemonctl/internal/proc"
	"github.com/daemonctl/daemonctl/internal/state"
)

// The commands of the scenarios that play a hostile local user against
// root's daemonctl.

// tmpuser: create a throwaway unprivileged user, removed when the scenario
// ends; set TMPUSER and TMPUID. Needs root and useradd.
func cmdTmpUser(ts *testscript.TestScript, neg bool, args []string) {
	name := "dct" + ts.Getenv(tagVar)[:8]
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
	if err != nil {
		ts.Fatalf("useradd: %v: %s", err, out)
	}
	ts.Defer(func() { exec.Command("userdel", name).Run() })
	out, err = exec.Command("id", "-u", name).Output()
	ts.Check(err)
	// The user reaches the scenario's files (its scripts, its sockets),
	// as a service user reaches its install; not its run_dir's insides.
	work := ts.Getenv("WORK")
	for _, d := range []string{filepath.Dir(work), work} {
		ts.Check(os.Chmod(d, 0o755))
	}
	ts.Setenv("TMPUSER", name)
	ts.Setenv("TMPUID", strings.TrimSpace(string(out)))
}

func tmpUID(ts *testscript.TestScript) uint32 {
	uid, err := strconv.Atoi(ts.Getenv("TMPUID"))
	if err != nil {
		ts.Fatalf("no TMPUID: run tmpuser first")
	}
	return uint32(uid)
}

// spawnas PIDFILE CMD [ARGS...]: spawn, as the tmpuser user (and its own
// group, which nobody else is in).
func cmdSpawnAs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: spawnas PIDFILE CMD [ARGS...]")
	}
	uid := tmpUID(ts)
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = scriptEnv(ts)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	ts.Check(cmd.Start())
	go cmd.Wait()
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
}

// chownuser PATH...: give each path to the tmpuser user.
func cmdChownUser(ts *testscript.TestScript, neg bool, args []string) {
	uid := int(tmpUID(ts))
	for _, p := range args {
		ts.Check(os.Lchown(ts.MkAbs(p), uid, uid))
	}
}

// forgerecord SERVICE PIDFILE: write run/SERVICE.state as a forger would:
// a running record naming the live process in PIDFILE (its pid, start time
// and boot id are readable by anyone in /proc), owned by the tmpuser user.
func cmdForgeRecord(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: forgerecord SERVICE PIDFILE")
	}
	info, err := proc.Inspect(readPID(ts, args[1]))
	ts.Check(err)
	rec := state.Record{Service: args[0], Phase: state.PhaseRunning, Leader: info.Identity, Token: "forged"}
	b, err := json.Marshal(rec)
	ts.Check(err)
	path := filepath.Join(ts.Getenv("WORK"), "run", args[0]+".state")
	ts.Check(os.WriteFile(path, b, 0o644))
	uid := int(tmpUID(ts))
	ts.Check(os.Chown(path, uid, uid))
}

// oldsocket DIR: set OLDSOCK to the abstract socket name a supervisor of
// run_dir DIR listened on before it moved into run_dir, which any user
// could bind first.
func cmdOldSocket(ts *testscript.TestScript, neg bool, args []string) {
	sum := sha256.Sum256([]byte(ts.MkAbs(args[0])))
	ts.Setenv("OLDSOCK", "@daemonctl-"+hex.EncodeToString(sum[:12]))
}

package reaper

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// HelperWaitDelay is how long a helper command's output is waited for
// once it has exited or been killed: a background child that still holds
// the output pipe does not hold the caller for longer.
const HelperWaitDelay = time.Second

// Command returns a helper command (a probe, a hook) bounded by ctx: it
// runs in a process group of its own, the whole group is killed when ctx
// ends, and its output is waited for at most HelperWaitDelay after that
// or after it exits. Run it with Run.
func Command(ctx context.Context, argv []string, dir string, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = HelperWaitDelay
	return cmd
}

// Run starts cmd, waits for it and then ends what is left of its process
// group, so that nothing a helper left in the background outlives it.
// With a reaper, cmd's exit is left to cmd's own Wait; r may be nil in a
// process that has none.
func (r *Reaper) Run(cmd *exec.Cmd) error {
	if r == nil {
		if err := cmd.Start(); err != nil {
			return err
		}
	} else {
		done, err := r.leaveTo(func() (int, error) {
			if err := cmd.Start(); err != nil {
				return 0, err
			}
			return cmd.Process.Pid, nil
		})
		if err != nil {
			return err
		}
		defer done()
	}
	err := cmd.Wait()
	killGroup(cmd)
	return err
}

// killGroup SIGKILLs cmd's process group, which Command made with cmd as
// its leader.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil || cmd.SysProcAttr == nil || !cmd.SysProcAttr.Setpgid {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != syscall.ESRCH {
		return err
	}
	return nil
}

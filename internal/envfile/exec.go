package envfile

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/daemonctl/daemonctl/internal/privilege"
	"github.com/daemonctl/daemonctl/internal/reaper"
)

// ExecTimeout bounds an env file run with bash (env_file_exec).
const ExecTimeout = 30 * time.Second

// bashOwn are variables bash sets itself, not the env file.
var bashOwn = map[string]bool{"PWD": true, "OLDPWD": true, "SHLVL": true, "_": true}

// ExecFile runs the env file at path with bash instead of parsing it, for
// an env file the operator opted in (env_file_exec: true) because it runs
// commands (upstream DolphinScheduler's HADOOP_CLASSPATH=`hadoop
// classpath`): with only the variables of e in its environment, stdin
// from /dev/null, in a process group of its own, as user (the caller when
// empty), within ExecTimeout. Every variable it leaves set (set -a
// exports plain assignments too) is taken into e.
func (e *Env) ExecFile(path, user string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ExecTimeout)
	defer cancel()
	const script = `set -a; . "$1" </dev/null >/dev/null || exit; exec env -0`
	cmd := reaper.Command(ctx, []string{"bash", "--noprofile", "--norc", "-c", script, "bash", path}, "/", e.Environ())
	if user != "" {
		cred, err := privilege.Credential(user)
		if err != nil {
			return err
		}
		cmd.SysProcAttr.Credential = cred
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := reaper.Current().Run(cmd); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no result after %s", ExecTimeout)
		}
		return fmt.Errorf("env file %s (env_file_exec): %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	for kv := range bytes.SplitSeq(out.Bytes(), []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok || bashOwn[k] {
			continue
		}
		if was, set := e.Get(k); !set || was != v {
			if len(v) > MaxValue || e.size()-len(was)+len(k)+len(v)+2 > MaxTotal {
				return fmt.Errorf("env file %s (env_file_exec): %s is too large (at most %s a value, %s in all)", path, k, size(MaxValue), size(MaxTotal))
			}
			e.Set(k, v)
		}
	}
	return nil
}

package envfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name, src string
		base      []string
		want      map[string]string
	}{
		{"plain", "A=1\nB=two\n", nil, map[string]string{"A": "1", "B": "two"}},
		{"export", "export A=1\nexport B\n", []string{"B=caller"}, map[string]string{"A": "1", "B": "caller"}},
		{"comments and blanks", "# c\n\nA=1 # trailing\n", nil, map[string]string{"A": "1"}},
		{"single quotes keep $", "A='$HOME x'\n", []string{"HOME=/root"}, map[string]string{"A": "$HOME x"}},
		{"double quotes expand", `A="$HOME ${HOME}/x"` + "\n", []string{"HOME=/root"}, map[string]string{"A": "/root /root/x"}},
		{"default unset", "A=${NOPE:-dflt}\n", nil, map[string]string{"A": "dflt"}},
		{"default set", "A=${HOME:-dflt}\n", []string{"HOME=/root"}, map[string]string{"A": "/root"}},
		{"default empty", "A=${E:-dflt}\n", []string{"E="}, map[string]string{"A": "dflt"}},
		{"dash default keeps empty", "A=${E-dflt}\n", []string{"E="}, map[string]string{"A": ""}},
		{"assign default", "A=${B:=set}\n", nil, map[string]string{"A": "set", "B": "set"}},
		{"earlier values", "A=1\nB=$A$A\n", nil, map[string]string{"B": "11"}},
		{"path prepend", "export JAVA_HOME=/opt/jdk\nexport PATH=$JAVA_HOME/bin:$PATH\n", []string{"PATH=/usr/bin"}, map[string]string{"PATH": "/opt/jdk/bin:/usr/bin"}},
		{"append", "A=x\nA+=y\n", nil, map[string]string{"A": "xy"}},
		{"several on a line", "A=1 B=2\n", nil, map[string]string{"A": "1", "B": "2"}},
		{"escaped", `A="a \"q\" \$X"` + "\n", nil, map[string]string{"A": `a "q" $X`}},
		{"unset expands empty", "A=x${NOPE}y\n", nil, map[string]string{"A": "xy"}},
		{"jdbc url", `export SPRING_DATASOURCE_URL="jdbc:mysql://127.0.0.1:3306/ds?useUnicode=true&characterEncoding=UTF-8"` + "\n", nil,
			map[string]string{"SPRING_DATASOURCE_URL": "jdbc:mysql://127.0.0.1:3306/ds?useUnicode=true&characterEncoding=UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := FromEnviron(tt.base)
			if err := env.Load(strings.NewReader(tt.src), "e.sh"); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got, _ := env.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestLoadRefusesCommands(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	tests := []struct{ name, src, want string }{
		{"command substitution", "A=1\nB=$(touch " + marker + ")\n", "e.sh:2: command substitution is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"backticks", "B=`touch " + marker + "`\n", "e.sh:1: command substitution is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"in quotes", `B="x $(touch ` + marker + `)"` + "\n", "e.sh:1: command substitution is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"in default", "B=${X:-$(touch " + marker + ")}\n", "e.sh:1: command substitution is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"plain command", "A=1\ntouch " + marker + "\n", `e.sh:2: the command "touch" is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)`},
		{"prefix assignment", "A=1 touch " + marker + "\n", `e.sh:1: a command after A= (a space after the =?) is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)`},
		{"a space after =, the value not repeated", "DB_PASSWORD= hunter2secret\n", `e.sh:1: a command after DB_PASSWORD= (a space after the =?) is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)`},
		{"pipeline", "echo x | sh\n", "e.sh:1: a pipeline or command list is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"and list", "A=1 && touch " + marker + "\n", "e.sh:1: a pipeline or command list is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"if", "if true; then A=1; fi\n", "e.sh:1: control flow is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"function", "f() { touch x; }\n", "e.sh:1: a function definition is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"source", ". other.sh\n", `e.sh:1: the command "." is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)`},
		{"redirect", "A=1 > " + marker + "\n", "e.sh:1: a redirection is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"background", "A=1 &\n", "e.sh:1: a background command is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"process substitution", "A=<(touch " + marker + ")\n", "e.sh:1: process substitution is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"arithmetic", "A=$((1+2))\n", "e.sh:1: arithmetic expansion is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"array", "A=(1 2)\n", "e.sh:1: an array is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)"},
		{"declare", "declare -x A=1\n", `e.sh:1: "declare" is not allowed in an env file (it is parsed, never executed; env_file_exec: true for this file runs it with bash instead)`},
		{"syntax", "A=\"unterminated\n", "e.sh:1:3: reached EOF without closing quote `\"`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Env{}).Load(strings.NewReader(tt.src), "e.sh")
			if err == nil {
				t.Fatalf("accepted, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tt.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("a command ran")
			}
		})
	}
}

func TestExpand(t *testing.T) {
	env := FromEnviron([]string{"HOME=/root"})
	got, err := env.Expand("P", "$HOME/bin:${MISSING:-x}")
	if err != nil || got != "/root/bin:x" {
		t.Errorf("Expand = %q, %v", got, err)
	}
	if _, err := env.Expand("X", "$(id)"); err == nil {
		t.Error("Expand ran a command substitution")
	}
}

// Env files that would explode are refused at the line that would, before
// any memory is spent on them.
func TestExplodingValuesAreRefused(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"pattern replacement squared, four times (65 bytes)", "A=0123456789abcdef\nA=${A//?/$A}\nA=${A//?/$A}\nA=${A//?/$A}\nA=${A//?/$A}\n",
			"e.sh:4: A could grow to over 1 GiB, more than the 128 KiB a program's environment string may hold (execve(2)): refused"},
		{"doubling", "A=0123456789abcdef" + strings.Repeat("\nA=$A$A", 30) + "\n",
			"e.sh:15: A could grow to 256 KiB, more than the 128 KiB"},
		{"appending", "A=0123456789abcdef" + strings.Repeat("\nA+=$A", 30) + "\n",
			"e.sh:15: A could grow to 256 KiB"},
		{"through a default", "A=0123456789abcdef" + strings.Repeat("\nA=${B:-$A$A}", 30) + "\n",
			"e.sh:15: A could grow to 256 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{}
			err := env.Load(strings.NewReader(tt.src), "e.sh")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	// Many values, each allowed, still make too big an environment.
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "V%d=%s\n", i, strings.Repeat("x", 120<<10))
	}
	err := (&Env{}).Load(strings.NewReader(b.String()), "e.sh")
	if err == nil || !strings.Contains(err.Error(), "e.sh:18: V17 would make the environment 2.1 MiB, more than 2.0 MiB: refused") {
		t.Fatalf("20 values of 120 KiB: %v", err)
	}
	// What real env files do still works: a long CLASSPATH built up.
	src := "CP=/opt/ds/lib/a.jar" + strings.Repeat("\nCP=$CP:/opt/ds/lib/some-library-1.2.3.jar", 2000) + "\n"
	env := &Env{}
	if err := env.Load(strings.NewReader(src), "e.sh"); err != nil {
		t.Fatalf("a 70 KiB CLASSPATH: %v", err)
	}
}

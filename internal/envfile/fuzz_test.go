package envfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds the env-file parser arbitrary shell: it must never panic,
// never run anything, and every error must name the file.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"export JAVA_HOME=${JAVA_HOME:-/opt/soft/java}\nexport PATH=$JAVA_HOME/bin:$PATH\n",
		"export DATABASE=${DATABASE:-postgresql}\nexport SPRING_PROFILES_ACTIVE=${DATABASE}\nexport SPRING_DATASOURCE_URL=\"jdbc:postgresql://127.0.0.1:5432/dolphinscheduler\"\n",
		"export REGISTRY_ZOOKEEPER_CONNECT_STRING=${REGISTRY_ZOOKEEPER_CONNECT_STRING:-localhost:2181}\n",
		"export HADOOP_CONF_DIR=${HADOOP_CONF_DIR:-/opt/soft/hadoop/etc/hadoop}\nexport PYTHON_LAUNCHER=${PYTHON_LAUNCHER:-/opt/soft/python/bin/python3}\n",
		"A='it''s'\nB=\"a \\\"b\\\" \\$c\"\nC=$'x\\ty'\n",
		"A=$(touch pwned)\n", "A=`touch pwned`\n", "A=${X:-$(touch pwned)}\n", "touch pwned\n",
		"A=1 touch pwned\n", "A=<(touch pwned)\n", "f() { :; }\n", "A=$((1+2))\n", "A=(1 2)\n",
		"export\n", "export -n A\n", "A+=x\n", "${A:?unset}\n", "A=\"${B:=c}\"\n", "A=\"unterminated\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		// Anything that would create a file would create it here.
		src = strings.ReplaceAll(src, "pwned", filepath.Join(dir, "pwned"))
		err := FromEnviron([]string{"HOME=/root"}).Load(strings.NewReader(src), "fuzz.sh")
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.sh") {
			t.Errorf("error does not name the file: %v", err)
		}
		if _, statErr := os.Stat(filepath.Join(dir, "pwned")); statErr == nil {
			t.Fatal("parsing the env file ran a command")
		}
	})
}

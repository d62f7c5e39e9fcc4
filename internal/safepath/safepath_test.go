package safepath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenDir(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "ds-3.2.1")
	os.MkdirAll(filepath.Join(real, "logs"), 0o755)
	// /opt/ds -> /opt/ds-3.2.1, in a directory only we may change: followed.
	os.Symlink("ds-3.2.1", filepath.Join(root, "ds"))
	os.Symlink(real, filepath.Join(root, "abs"))
	for _, p := range []string{"ds/logs", "abs/logs", "ds/../ds-3.2.1/logs"} {
		d, err := OpenDir(filepath.Join(root, p), false)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f, err := d.OpenFile("x.out", os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f.Close()
		d.Close()
		if _, err := os.Stat(filepath.Join(real, "logs", "x.out")); err != nil {
			t.Fatalf("%s: the file is not where the links lead: %v", p, err)
		}
	}
	d, err := OpenDir(filepath.Join(root, "new", "deep"), true)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if fi, err := os.Stat(filepath.Join(root, "new", "deep")); err != nil || !fi.IsDir() {
		t.Fatal("create made no directories")
	}
	os.Symlink("loop", filepath.Join(root, "loop"))
	if _, err := OpenDir(filepath.Join(root, "loop"), false); err == nil {
		t.Fatal("a link to itself resolved")
	}
	// A link as the file itself is never followed.
	os.Symlink("/etc/passwd", filepath.Join(real, "logs", "y.out"))
	d, _ = OpenDir(filepath.Join(real, "logs"), false)
	defer d.Close()
	if _, err := d.OpenFile("y.out", os.O_RDONLY, 0); err == nil {
		t.Fatal("a link as the last component was opened")
	}
}

func TestLinksOtherUsersControlAreRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("plays another user: needs root (CI runs as root)")
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	theirs := filepath.Join(root, "home") // a deploy user's install
	os.Mkdir(theirs, 0o755)
	os.Chown(theirs, 65534, 65534)
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	os.Symlink(filepath.Join(root, "etc"), filepath.Join(theirs, "logs"))
	_, err := OpenDir(filepath.Join(theirs, "logs"), false)
	if !errors.Is(err, ErrUnsafeLink) {
		t.Fatalf("a link in another user's directory: %v", err)
	}
	// A sticky, world-writable directory (/tmp): their link is refused,
	// ours is followed.
	tmp := filepath.Join(root, "tmp")
	os.Mkdir(tmp, 0o755)
	os.Chmod(tmp, 0o1777)
	os.Symlink(filepath.Join(root, "etc"), filepath.Join(tmp, "theirs"))
	os.Lchown(filepath.Join(tmp, "theirs"), 65534, 65534)
	if _, err := OpenDir(filepath.Join(tmp, "theirs"), false); !errors.Is(err, ErrUnsafeLink) {
		t.Fatalf("another user's link in a sticky directory: %v", err)
	}
	os.Symlink(filepath.Join(root, "etc"), filepath.Join(tmp, "ours"))
	d, err := OpenDir(filepath.Join(tmp, "ours"), false)
	if err != nil {
		t.Fatalf("our link in a sticky directory: %v", err)
	}
	d.Close()
}

// The one-call open takes a path without links, and leaves every link,
// safe or not, to the walk.
func TestOpenWithoutLinksLeavesLinksToTheWalk(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "real", "logs"), 0o755)
	os.Symlink("real", filepath.Join(root, "link"))
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"real/logs", true},
		{"real/../real/logs", true},
		{"link/logs", false},
		{"link", false},
		{"file", false},
		{"missing", false},
	} {
		fd, ok := openWithoutLinks(filepath.Join(root, tt.path))
		if ok {
			unix.Close(fd)
		}
		if ok != tt.ok {
			t.Errorf("%s: opened %v, want %v", tt.path, ok, tt.ok)
		}
	}
}

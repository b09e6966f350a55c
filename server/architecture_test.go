package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestArchitecturePaths: every file or folder that ARCHITECTURE.md names in backquotes exists,
// so the codemap cannot lead a newcomer to a room that moved. API paths (/api/…) and commands
// are not files and are left out.
func TestArchitecturePaths(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile("`([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*)`").FindAllStringSubmatch(string(b), -1)
	if len(names) < 20 {
		t.Fatalf("ARCHITECTURE.md names %d paths; the codemap is missing or was not read", len(names))
	}
	for _, m := range names {
		p := m[1]
		if strings.Contains(p, "://") || strings.HasPrefix(p, "api/") {
			continue
		}
		if _, err := os.Stat(filepath.Join("..", filepath.FromSlash(strings.TrimSuffix(p, "/")))); err != nil {
			t.Errorf("ARCHITECTURE.md names %s, which does not exist", p)
		}
	}
}

// TestRoomImports: imports point one way (ARCHITECTURE.md). Each room's files, tests
// included, are read for their imports; a room that reaches for what it may not use fails,
// naming the file.
func TestRoomImports(t *testing.T) {
	const mod = "github.com/citycard/citycard/"
	for _, room := range []struct {
		dir    string
		banned []string
		why    string
	}{
		{"../card", []string{mod, "database/sql", "github.com/gofiber/", "github.com/skip2/go-qrcode"}, "the card domain imports none of ours and no I/O"},
		{"../merchant", []string{mod + "storage", mod + "server", "database/sql", "github.com/gofiber/", "github.com/skip2/go-qrcode"}, "the merchant domain imports only card"},
		{"i18n", []string{mod + "storage", mod + "server", "github.com/gofiber/"}, "catalogues and formats render from domain values only"},
		{"papers", []string{mod + "storage", mod + "server/tools", "github.com/gofiber/"}, "papers render from domain values only"},
		{"tools", []string{mod + "server", "github.com/gofiber/"}, "the tools get what they need of the service as parameters"},
	} {
		files, err := filepath.Glob(filepath.Join(room.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files: %v", room.dir, err)
		}
		for _, name := range files {
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, banned := range room.banned {
					if path == strings.TrimSuffix(banned, "/") || strings.HasPrefix(path, banned) {
						t.Errorf("%s imports %s: %s", name, path, room.why)
					}
				}
			}
		}
	}
}

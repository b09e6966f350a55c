package main

import (
	"os"
	"path/filepath"
	"regexp"
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

package i18n

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsStayInRoom: the room renders from domain values only, so none of its files
// (tests included) imports the storage or the web framework.
func TestImportsStayInRoom(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, banned := range []string{"github.com/citycard/citycard/storage", "github.com/gofiber/"} {
				if path == banned || strings.HasPrefix(path, banned) {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
}

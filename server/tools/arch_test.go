package tools

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports: the tools use storage and the domain, never the HTTP side: no Fiber, and
// nothing of the service's package (server) or its other rooms.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files here: %v", err)
	}
	for _, f := range files {
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range ast.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(path, "github.com/gofiber/") || strings.HasPrefix(path, "github.com/citycard/citycard/server") {
				t.Errorf("%s imports %s: the tools get what they need of the service as parameters", f, path)
			}
		}
	}
}

package i18n

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/citycard/citycard/card"
)

// TestCatalogueComplete checks every message catalogue of every area (*.json): each
// area exists in all four languages, and every key any language has is in all of them with a
// non-empty text. A missing key would show a person an English word or a raw key.
func TestCatalogueComplete(t *testing.T) {
	names, err := fs.Glob(files, "*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no catalogues: %v", err)
	}
	if len(catalogues) == 0 || catalogues["card"] == nil {
		t.Fatalf("the card page's catalogue is missing: areas %v", Areas())
	}
	for area, langs := range catalogues {
		keys := map[string]bool{}
		for _, l := range card.Languages {
			if langs[l] == nil {
				t.Errorf("%s: no catalogue %s.%s.json", area, area, l)
			}
		}
		for _, m := range langs {
			for k := range m {
				keys[k] = true
			}
		}
		for k := range keys {
			for _, l := range card.Languages {
				if v, ok := langs[l][k]; !ok {
					t.Errorf("%s.%s.json: key %q is missing", area, l, k)
				} else if strings.TrimSpace(v) == "" {
					t.Errorf("%s.%s.json: key %q is empty", area, l, k)
				}
			}
		}
	}
}

// TestCatalogueNames: a file named otherwise than <area>.<lang>.json stops the program.
func TestCatalogueNames(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a catalogue in an unknown language was accepted")
		}
	}()
	mustLoadCatalogues(fstest.MapFS{"pos.fr.json": {Data: []byte("{}")}})
}

package i18n

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/citycard/citycard/card"
)

// glossaryEntry is one concept of a language's glossary (glossary/<lang>.json): the one term
// every catalogue uses for it, its forms, and the synonyms no catalogue may use instead
// (each a pattern a whole word must match, case-insensitively), except in the keys listed
// as "area:key" where the word means something else (a shop is also a merchant's category).
type glossaryEntry struct {
	Concept   string   `json:"concept"`
	Term      string   `json:"term"`
	Forms     string   `json:"forms"`
	Note      string   `json:"note"`
	Forbidden []string `json:"forbidden"`
	Except    []string `json:"except"`
}

// glossaryConcepts are the concepts every language's glossary fixes a term for.
var glossaryConcepts = []string{"card", "redemption", "office", "network", "void", "conflict", "statement", "merchant", "offer", "till"}

func loadGlossary(t *testing.T, lang string) []glossaryEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("glossary", lang+".json"))
	if err != nil {
		t.Fatalf("glossary for %s: %v", lang, err)
	}
	var g []glossaryEntry
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("glossary/%s.json: %v", lang, err)
	}
	return g
}

var (
	wordRE        = regexp.MustCompile(`[\pL']+`)
	placeholderRE = regexp.MustCompile(`\{[^}]*\}`)
)

// TestGlossary checks every catalogue text of every area against its language's glossary:
// no word of a text may be a forbidden synonym of a concept (for example Slovene
// "unovčenja" where the term is "unovčitev", Italian "riscatti" or "redenzione" where it is
// "utilizzo"), and each glossary names a term for every concept.
func TestGlossary(t *testing.T) {
	for _, lang := range card.Languages {
		g := loadGlossary(t, lang)
		seen := map[string]bool{}
		for _, e := range g {
			seen[e.Concept] = true
			if e.Term == "" {
				t.Errorf("glossary/%s.json: %s has no term", lang, e.Concept)
			}
		}
		for _, c := range glossaryConcepts {
			if !seen[c] {
				t.Errorf("glossary/%s.json: no term for %s", lang, c)
			}
		}
		for _, e := range g {
			res := make([]*regexp.Regexp, len(e.Forbidden))
			for i, f := range e.Forbidden {
				re, err := regexp.Compile(`(?i)^(?:` + f + `)$`)
				if err != nil {
					t.Fatalf("glossary/%s.json: %s: %v", lang, e.Concept, err)
				}
				res[i] = re
				for _, w := range wordRE.FindAllString(e.Term+" "+e.Forms, -1) {
					if re.MatchString(w) {
						t.Errorf("glossary/%s.json: %s forbids its own form %q", lang, e.Concept, w)
					}
				}
			}
			except := map[string]bool{}
			for _, x := range e.Except {
				except[x] = true
			}
			for _, area := range Areas() {
				m := Catalogue(area)[lang]
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if except[area+":"+k] {
						continue
					}
					for _, w := range wordRE.FindAllString(placeholderRE.ReplaceAllString(m[k], " "), -1) {
						w = strings.Trim(w, "'")
						for _, re := range res {
							if re.MatchString(w) {
								t.Errorf("%s.%s.json %q: %q is not the glossary's term for %s: write %q (%s)", area, lang, k, w, e.Concept, e.Term, m[k])
							}
						}
					}
				}
			}
		}
	}
}

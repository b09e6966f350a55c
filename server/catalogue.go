package main

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/citycard/citycard/card"
)

// The pages' and documents' message catalogues: one JSON file per area and language,
// server/i18n/<area>.<lang>.json, each a flat object of key → text. One file per area keeps
// the till's, the console's and the papers' texts apart, so no two changes meet in one file.
//
//go:embed i18n/*.json
var catalogueFS embed.FS

// catalogues holds every catalogue: catalogues[area][lang][key]. Loaded once at start-up; a
// malformed file stops the binary from starting rather than showing keys to people.
var catalogues = func() map[string]map[string]map[string]string {
	c, err := loadCatalogues(catalogueFS, "i18n")
	if err != nil {
		panic(err)
	}
	return c
}()

// loadCatalogues reads every <area>.<lang>.json under dir of fsys.
func loadCatalogues(fsys fs.FS, dir string) (map[string]map[string]map[string]string, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]map[string]string{}
	for _, f := range files {
		area, lang, ok := strings.Cut(strings.TrimSuffix(path.Base(f), ".json"), ".")
		if !ok || area == "" || !card.ValidLang(lang) {
			return nil, fmt.Errorf("catalogue %s: want <area>.<lang>.json with lang one of %v", f, card.Languages)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", f, err)
		}
		if out[area] == nil {
			out[area] = map[string]map[string]string{}
		}
		out[area][lang] = m
	}
	return out, nil
}

// catalogueProblems lists what keeps the catalogues from being complete: an area missing a
// language, a key missing from a language that another language of its area has, an empty text.
func catalogueProblems(cats map[string]map[string]map[string]string) []string {
	var problems []string
	for area, langs := range cats {
		keys := map[string]bool{}
		for _, m := range langs {
			for k := range m {
				keys[k] = true
			}
		}
		for _, lang := range card.Languages {
			m, ok := langs[lang]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: no %s.%s.json", area, area, lang))
				continue
			}
			for k := range keys {
				if v, ok := m[k]; !ok {
					problems = append(problems, fmt.Sprintf("%s.%s.json lacks %q", area, lang, k))
				} else if strings.TrimSpace(v) == "" {
					problems = append(problems, fmt.Sprintf("%s.%s.json has an empty %q", area, lang, k))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

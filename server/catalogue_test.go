package main

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestCataloguesComplete checks every message catalogue of every area (server/i18n/*.json):
// each area has all four languages, and every key of an area is in each of them, not empty.
func TestCataloguesComplete(t *testing.T) {
	cats, err := loadCatalogues(catalogueFS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	if len(cats) == 0 {
		t.Fatal("no catalogues embedded")
	}
	for _, p := range catalogueProblems(cats) {
		t.Error(p)
	}
}

// TestCatalogueProblems shows the completeness check finds what it is for.
func TestCatalogueProblems(t *testing.T) {
	fsys := fstest.MapFS{
		"i18n/x.sl.json": {Data: []byte(`{"a":"A","b":"B"}`)},
		"i18n/x.it.json": {Data: []byte(`{"a":"A"}`)},
		"i18n/x.en.json": {Data: []byte(`{"a":"A","b":" "}`)},
	}
	cats, err := loadCatalogues(fsys, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(catalogueProblems(cats), "\n")
	for _, want := range []string{`x: no x.de.json`, `x.it.json lacks "b"`, `x.en.json has an empty "b"`} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	for _, bad := range []string{"i18n/x.fr.json", "i18n/nolang.json"} {
		if _, err := loadCatalogues(fstest.MapFS{bad: {Data: []byte(`{}`)}}, "i18n"); err == nil {
			t.Errorf("%s loaded without an error", bad)
		}
	}
	if _, err := loadCatalogues(fstest.MapFS{"i18n/x.sl.json": {Data: []byte(`{"a":1}`)}}, "i18n"); err == nil {
		t.Error("a catalogue with a number for a text loaded without an error")
	}
}

// TestAdminTextsInCatalogue checks that every text key the console's page and script ask for
// is in its catalogue, so no one reads a bare key like "desk.block".
func TestAdminTextsInCatalogue(t *testing.T) {
	en := catalogues["admin"]["en"]
	html, err := fs.ReadFile(webFS, "web/admin.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := fs.ReadFile(webFS, "web/static/admin.js")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		keys = append(keys, m[1])
	}
	// t("key"…), t(cond ? "a" : "b"…) and the report's tiles ["tile.x", …].
	for _, m := range regexp.MustCompile(`\bt\((?:[^()"]*\? )?"([a-z_.]+)"(?: : "([a-z_.]+)")?`).FindAllStringSubmatch(string(js), -1) {
		keys = append(keys, m[1])
		if m[2] != "" {
			keys = append(keys, m[2])
		}
	}
	for _, m := range regexp.MustCompile(`\["(tile\.[a-z_]+)"`).FindAllStringSubmatch(string(js), -1) {
		keys = append(keys, m[1])
	}
	if len(keys) < 100 {
		t.Fatalf("found only %d text keys in the console: the patterns no longer match its code", len(keys))
	}
	for _, k := range keys {
		if strings.HasSuffix(k, ".") {
			continue // a prefix completed with a value: the list below
		}
		if _, ok := en[k]; !ok {
			t.Errorf("the console asks for %q, which admin.en.json lacks", k)
		}
	}
	// Keys made from a value: every category, card and merchant status, redemption status,
	// offer limit and kind.
	for _, k := range []string{"cat.shop", "cat.restaurant", "cat.bar", "cat.museum", "cat.attraction", "cat.tour", "cat.transport",
		"cat.accommodation", "cat.service", "status.issued", "status.active", "status.expired", "status.blocked",
		"mstatus.active", "mstatus.suspended", "red.completed", "red.voided", "o.limit.once", "o.limit.daily",
		"o.limit.unlimited", "o.value.percent", "o.value.amount", "o.value.price"} {
		if _, ok := en[k]; !ok {
			t.Errorf("admin.en.json lacks %q", k)
		}
	}
}

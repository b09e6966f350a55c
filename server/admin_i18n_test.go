package main

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/citycard/citycard/server/i18n"
)

// TestAdminTextsInCatalogue checks that every text key the console's page and script ask for
// is in its catalogues (admin.*.json and towns.*.json), so no one reads a bare key like
// "desk.block".
func TestAdminTextsInCatalogue(t *testing.T) {
	en := consoleTexts["en"]
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
			t.Errorf("the console asks for %q, which neither admin.en.json nor towns.en.json has", k)
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

// TestConsoleTextsDistinct: the console's areas share one data block, so a key in both
// admin.*.json and towns.*.json would show one area's text where the other's was meant.
func TestConsoleTextsDistinct(t *testing.T) {
	for lang, m := range i18n.Catalogue("towns") {
		for k := range m {
			if _, ok := i18n.Catalogue("admin")[lang][k]; ok {
				t.Errorf("key %q is in both admin.%s.json and towns.%s.json", k, lang, lang)
			}
		}
	}
	if len(consoleTexts["sl"]) != len(i18n.Catalogue("admin")["sl"])+len(i18n.Catalogue("towns")["sl"]) {
		t.Errorf("the console's Slovene texts have %d keys, want admin's and towns' together", len(consoleTexts["sl"]))
	}
}

package main

import (
	"embed"
	"encoding/json"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/citycard/citycard/card"
)

// i18nFS holds the message catalogues: one JSON object of key → text per page area and
// language, named <area>.<lang>.json (card.sl.json, pos.it.json, …), so that two people
// translating two areas never edit the same file.
//
//go:embed i18n/*.json
var i18nFS embed.FS

// catalogues are the embedded catalogues by area, then language, then key. Loaded once at
// start-up; a malformed file stops the program at once rather than showing keys to people.
var catalogues = mustLoadCatalogues(i18nFS)

// messages are the card page's texts in the four languages of the card.
var messages = catalogues["card"]

// mustLoadCatalogues reads every i18n/<area>.<lang>.json file of fsys.
func mustLoadCatalogues(fsys fs.FS) map[string]map[string]map[string]string {
	out := map[string]map[string]map[string]string{}
	names, err := fs.Glob(fsys, "i18n/*.json")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		area, lang, ok := strings.Cut(strings.TrimSuffix(path.Base(name), ".json"), ".")
		if !ok || !card.ValidLang(lang) {
			panic("i18n: " + name + " is not named <area>.<sl|it|en|de>.json")
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			panic("i18n: " + name + ": " + err.Error())
		}
		if out[area] == nil {
			out[area] = map[string]map[string]string{}
		}
		out[area][lang] = m
	}
	return out
}

// translate returns the text of key in lang for an area, falling back to English, then to
// the key itself (which the catalogue test makes impossible for a key that exists).
func translate(area, lang, key string) string {
	if s, ok := catalogues[area][lang][key]; ok {
		return s
	}
	if s, ok := catalogues[area]["en"][key]; ok {
		return s
	}
	return key
}

// pickLang chooses the page language: ?lang=, else the best of Accept-Language, else the
// card holder's language, else English.
func pickLang(query, acceptLanguage, cardLang string) string {
	if card.ValidLang(query) {
		return query
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		fields := strings.Split(part, ";")
		tag := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(f), "q="); ok {
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					q = n
				}
			}
		}
		if len(tag) >= 2 && card.ValidLang(tag[:2]) && q > bestQ {
			best, bestQ = tag[:2], q
		}
	}
	if best != "" {
		return best
	}
	if card.ValidLang(cardLang) {
		return cardLang
	}
	return "en"
}

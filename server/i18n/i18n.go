// Package i18n owns the message catalogues, the language a request is answered in and how
// each language writes numbers, money, dates, durations and an offer's terms.
// It renders from domain values (card, merchant) alone: no HTTP, no storage.
package i18n

import (
	"embed"
	"encoding/json"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// files holds the message catalogues: one JSON object of key → text per page area and
// language, named <area>.<lang>.json (card.sl.json, pos.it.json, …), so that two people
// translating two areas never edit the same file.
//
//go:embed *.json
var files embed.FS

// catalogues are the embedded catalogues by area, then language, then key. Loaded once at
// start-up; a malformed file stops the program at once rather than showing keys to people.
var catalogues = mustLoadCatalogues(files)

// mustLoadCatalogues reads every <area>.<lang>.json file of fsys.
func mustLoadCatalogues(fsys fs.FS) map[string]map[string]map[string]string {
	out := map[string]map[string]map[string]string{}
	names, err := fs.Glob(fsys, "*.json")
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

// Catalogue is an area's texts (card, pos, home, pair, admin, towns, papers, network) by
// language, then key; nil for an area that has no catalogue. The maps are shared: callers
// must not change them.
func Catalogue(area string) map[string]map[string]string { return catalogues[area] }

// Areas are the names of every area that has a catalogue, sorted.
func Areas() []string {
	var out []string
	for a := range catalogues {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Translate returns the text of key in lang for an area, falling back to English, then to
// the key itself (which the catalogue test makes impossible for a key that exists).
func Translate(area, lang, key string) string {
	if s, ok := catalogues[area][lang][key]; ok {
		return s
	}
	if s, ok := catalogues[area]["en"][key]; ok {
		return s
	}
	return key
}

// PickLang chooses the page language: ?lang= (query), else the best of Accept-Language,
// else the card holder's language, else English. It always returns one of card.Languages.
func PickLang(query, acceptLanguage, cardLang string) string {
	if langs := ReaderLangs(query, acceptLanguage); len(langs) > 0 {
		return langs[0]
	}
	if card.ValidLang(cardLang) {
		return cardLang
	}
	return "en"
}

// Duration writes a time left in lang (the card page's words) as "2 d 5 h" or "3 h 20 min";
// less than a minute is "1 min".
func Duration(d time.Duration, lang string) string {
	m := catalogues["card"][lang]
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return strconv.Itoa(days) + " " + m["days"] + " " + strconv.Itoa(hours) + " " + m["hours"]
	case hours > 0:
		return strconv.Itoa(hours) + " " + m["hours"] + " " + strconv.Itoa(mins) + " " + m["minutes"]
	}
	return strconv.Itoa(max(mins, 1)) + " " + m["minutes"]
}

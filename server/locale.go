package main

import (
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/server/i18n"
)

// paperLang reads a paper's ?lang=: one of sl, it, en, de, or when absent the deployment's
// own language (the first of CITYCARD_LANGUAGES). Anything else is 400.
func (s *server) paperLang(q string) (i18n.Locale, error) { return s.paperLangIn("", q) }

// paperLangIn is paperLang for a paper of town: when ?lang= is absent, the town's own
// language.
func (s *server) paperLangIn(town, q string) (i18n.Locale, error) {
	if q == "" {
		return i18n.NewLocale(s.townLanguages(town)[0]), nil
	}
	if !card.ValidLang(q) {
		return i18n.Locale{}, badRequest("lang must be one of sl, it, en, de")
	}
	return i18n.NewLocale(q), nil
}

// townLanguages are town's languages, its own first: CITYCARD_LANGUAGES in a deployment of
// one town (as before towns), else the town's as the network admin set them.
func (s *server) townLanguages(town string) []string {
	if len(s.db.TownCodes()) > 1 {
		if t, ok := s.db.CachedTown(town); ok && len(t.Languages) > 0 {
			return t.Languages
		}
	}
	return s.cfg.Languages
}

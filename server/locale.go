package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// locale is how the papers (report, statements, print sheets and CSV) write in one language:
// its texts (the "papers" catalogue), its numbers, money and dates.
type locale struct {
	lang string
	msgs map[string]string
}

// newLocale is the papers' locale of lang, which must be one of card.Languages.
func newLocale(lang string) locale {
	return locale{lang: lang, msgs: catalogues["papers"][lang]}
}

// paperLang reads a paper's ?lang=: one of sl, it, en, de, or when absent the deployment's
// own language (the first of CITYCARD_LANGUAGES). Anything else is 400.
func (s *server) paperLang(q string) (locale, error) { return s.paperLangIn("", q) }

// paperLangIn is paperLang for a paper of town: when ?lang= is absent, the town's own
// language.
func (s *server) paperLangIn(town, q string) (locale, error) {
	if q == "" {
		return newLocale(s.townLanguages(town)[0]), nil
	}
	if !card.ValidLang(q) {
		return locale{}, badRequest("lang must be one of sl, it, en, de")
	}
	return newLocale(q), nil
}

// t is the text of key; a key missing from the catalogue shows itself (the catalogue test
// keeps that from happening).
func (l locale) t(key string) string {
	if v, ok := l.msgs[key]; ok {
		return v
	}
	return key
}

// tf is t with {0}, {1}… replaced by args in order.
func (l locale) tf(key string, args ...string) string {
	s := l.t(key)
	for i, a := range args {
		s = strings.ReplaceAll(s, "{"+strconv.Itoa(i)+"}", a)
	}
	return s
}

// separators are the thousands and decimal separators: "1.234,56" in sl, it and de,
// "1,234.56" in en.
func (l locale) separators() (thousands, decimal string) {
	if l.lang == "en" {
		return ",", "."
	}
	return ".", ","
}

// integer groups n by thousands: "1.234" (sl, it, de), "1,234" (en).
func (l locale) integer(n int64) string {
	th, _ := l.separators()
	neg := n < 0
	if neg {
		n = -n
	}
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(th)
		}
		b.WriteRune(d)
	}
	return b.String()
}

// count is integer for an int.
func (l locale) count(n int) string { return l.integer(int64(n)) }

// money writes cents as the language writes euros: "1.234,56 €" (sl, it, de), "€1,234.56"
// (en), with a leading minus when negative.
func (l locale) money(cents int64) string {
	_, dec := l.separators()
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	amount := l.integer(cents/100) + dec + fmt.Sprintf("%02d", cents%100)
	if l.lang == "en" {
		return sign + "€" + amount
	}
	return sign + amount + " €"
}

// decimal writes cents as a plain decimal number with the language's decimal separator and
// no grouping, for spreadsheets: "1234,56" or "1234.56".
func (l locale) decimal(cents int64) string {
	_, dec := l.separators()
	return strings.Replace(formatMoney(cents), ".", dec, 1)
}

var monthAbbrev = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// date writes a day as the language does: "1. 10. 2026" (sl), "1/10/2026" (it),
// "01.10.2026" (de), "1 Oct 2026" (en).
func (l locale) date(t time.Time) string {
	y, m, d := t.Date()
	switch l.lang {
	case "sl":
		return fmt.Sprintf("%d. %d. %d", d, m, y)
	case "it":
		return fmt.Sprintf("%d/%d/%d", d, m, y)
	case "de":
		return fmt.Sprintf("%02d.%02d.%d", d, m, y)
	}
	return fmt.Sprintf("%d %s %d", d, monthAbbrev[m-1], y)
}

// dateTime is date and the 24-hour time, in loc.
func (l locale) dateTime(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return l.date(t) + " " + t.Format("15:04")
}

// category is a merchant category's name.
func (l locale) category(c string) string { return l.t("category." + c) }

// productName is a product's name in the language, else in the first language it has
// (by the order of card.Languages), else its code.
func (l locale) productName(code string, names map[string]string) string {
	if n := names[l.lang]; n != "" {
		return n
	}
	for _, x := range card.Languages {
		if n := names[x]; n != "" {
			return n
		}
	}
	return code
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

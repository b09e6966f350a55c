package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/shopspring/decimal"
)

// Locale is how the papers (report, statements, print sheets and CSV) write in one language:
// its texts (the "papers" catalogue), its numbers, money and dates. The zero Locale writes
// English numbers and shows keys for texts.
type Locale struct {
	lang string
	msgs map[string]string
}

// NewLocale is the papers' locale of lang, which must be one of card.Languages.
func NewLocale(lang string) Locale {
	return Locale{lang: lang, msgs: catalogues["papers"][lang]}
}

// Lang is the locale's language: sl, it, en or de.
func (l Locale) Lang() string { return l.lang }

// Area is the same language with the texts of another area's catalogue (the network
// report's are "network").
func (l Locale) Area(area string) Locale {
	return Locale{lang: l.lang, msgs: catalogues[area][l.lang]}
}

// T is the text of key; a key missing from the catalogue shows itself (the catalogue test
// keeps that from happening).
func (l Locale) T(key string) string {
	if v, ok := l.msgs[key]; ok {
		return v
	}
	return key
}

// Tf is T with {0}, {1}… replaced by args in order.
func (l Locale) Tf(key string, args ...string) string {
	s := l.T(key)
	for i, a := range args {
		s = strings.ReplaceAll(s, "{"+strconv.Itoa(i)+"}", a)
	}
	return s
}

// separators are the thousands and decimal separators: "1.234,56" in sl, it and de,
// "1,234.56" in en.
func (l Locale) separators() (thousands, decimal string) {
	if l.lang == "en" {
		return ",", "."
	}
	return ".", ","
}

// Integer groups n by thousands: "1.234" (sl, it, de), "1,234" (en).
func (l Locale) Integer(n int64) string {
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

// Count is Integer for an int.
func (l Locale) Count(n int) string { return l.Integer(int64(n)) }

// Money writes cents as the language writes euros: "1.234,56 €" (sl, it, de), "€1,234.56"
// (en), with a leading minus when negative.
func (l Locale) Money(cents int64) string {
	_, dec := l.separators()
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	amount := l.Integer(cents/100) + dec + fmt.Sprintf("%02d", cents%100)
	if l.lang == "en" {
		return sign + "€" + amount
	}
	return sign + amount + " €"
}

// Decimal writes cents as a plain decimal number with the language's decimal separator and
// no grouping, for spreadsheets: "1234,56" or "1234.56".
func (l Locale) Decimal(cents int64) string {
	_, dec := l.separators()
	return strings.Replace(decimal.New(cents, -2).StringFixed(2), ".", dec, 1)
}

var monthAbbrev = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// Date writes a day as the language does: "1. 10. 2026" (sl), "1/10/2026" (it),
// "01.10.2026" (de), "1 Oct 2026" (en).
func (l Locale) Date(t time.Time) string {
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

// DateTime is Date and the 24-hour time, in loc: "6. 12. 2027 09:00" (sl), "6/12/2027 09:00"
// (it), "06.12.2027 09:00" (de), "6 Dec 2027 09:00" (en).
func (l Locale) DateTime(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return l.Date(t) + " " + t.Format("15:04")
}

// monthNames are the months in each language as a month and year are written ("november
// 2026", "novembre 2026"); Slovene dates use the genitive (slMonthsOf: "6. decembra 2027").
var monthNames = map[string][12]string{
	"sl": {"januar", "februar", "marec", "april", "maj", "junij", "julij", "avgust", "september", "oktober", "november", "december"},
	"it": {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
}

var slMonthsOf = [12]string{"januarja", "februarja", "marca", "aprila", "maja", "junija", "julija", "avgusta", "septembra", "oktobra", "novembra", "decembra"}

// MonthName is month m's name: "november" (sl), "novembre" (it), "November" (de, en).
func (l Locale) MonthName(m time.Month) string {
	names, ok := monthNames[l.lang]
	if !ok {
		names = monthNames["en"]
	}
	return names[m-1]
}

// MonthYear is a month as a paper's title names it: "november 2026" (sl), "novembre 2026"
// (it), "November 2026" (de, en).
func (l Locale) MonthYear(year int, m time.Month) string {
	return l.MonthName(m) + " " + strconv.Itoa(year)
}

// LongDate is a day with the month's name: "6. decembra 2027" (sl), "6 dicembre 2027" (it),
// "6. Dezember 2027" (de), "6 December 2027" (en).
func (l Locale) LongDate(t time.Time) string {
	y, m, d := t.Date()
	switch l.lang {
	case "sl":
		return fmt.Sprintf("%d. %s %d", d, slMonthsOf[m-1], y)
	case "de":
		return fmt.Sprintf("%d. %s %d", d, l.MonthName(m), y)
	}
	return fmt.Sprintf("%d %s %d", d, l.MonthName(m), y)
}

// lastMinute is the last minute in loc before the end instant t: a card that ends at local
// midnight is valid to the end of the day before (23:59), not "until the 30th 00:00".
func lastMinute(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	if t.Hour() == 0 && t.Minute() == 0 {
		return t.Add(-time.Minute)
	}
	return t
}

// Until is the last moment of something that ends at t (a card's validity, its activation
// deadline), in loc, without doubt about the last day: "29. oktobra 2027, 23:59" (sl),
// "29 ottobre 2027, 23:59" (it), "29. Oktober 2027, 23:59" (de), "29 October 2027, 23:59"
// (en) for an end at midnight of the 30th; an end at 09:00 is written with 09:00.
func (l Locale) Until(t time.Time, loc *time.Location) string {
	t = lastMinute(t, loc)
	return l.LongDate(t) + ", " + t.Format("15:04")
}

// UntilShort is Until with the day in figures, for a paper where space is short:
// "29. 10. 2027 23:59" (sl), "29/10/2027 23:59" (it).
func (l Locale) UntilShort(t time.Time, loc *time.Location) string {
	t = lastMinute(t, loc)
	return l.Date(t) + " " + t.Format("15:04")
}

// Category is a merchant category's name.
func (l Locale) Category(c string) string { return l.T("category." + c) }

// ProductName is a product's name in the language, else in the first language it has
// (by the order of card.Languages), else its code.
func (l Locale) ProductName(code string, names map[string]string) string {
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

// Title is a text by language in l's language, else the first language it has, else
// fallback.
func (l Locale) Title(texts map[string]string, fallback string) string {
	return l.ProductName(fallback, texts)
}

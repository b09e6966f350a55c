package i18n

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// The terms of an offer as the tourist reads them on the card page, in the page's language:
// what it gives ("10 % off", "€5.00 off", "free", "for €12.00"), the minimum purchase, the
// most it takes off, how often it may be used, its dates and the products it is for. Never
// the municipality's share: that is between the town and the merchant.

// OfferTerms returns the offer's terms in lang, in that order. productNames are the names of
// the products by code, for an offer limited to some.
func OfferTerms(o merchant.Offer, lang string, productNames map[string]map[string]string) []string {
	t := func(key string, vars ...string) string {
		s := Translate("card", lang, key)
		for i := 0; i+1 < len(vars); i += 2 {
			s = strings.ReplaceAll(s, "{"+vars[i]+"}", vars[i+1])
		}
		return s
	}
	var out []string
	switch o.Kind {
	case "percent":
		out = append(out, t("terms.percent", "value", localDecimal(o.Value, lang, false)))
	case "amount":
		out = append(out, t("terms.amount", "value", Euro(o.Value, lang)))
	case "price":
		out = append(out, t("terms.price", "value", Euro(o.Value, lang)))
	case "free":
		out = append(out, t("terms.free"))
	}
	if o.MinAmount != nil && *o.MinAmount > 0 {
		out = append(out, t("terms.min", "value", Euro(*o.MinAmount, lang)))
	}
	if o.MaxDiscount != nil {
		out = append(out, t("terms.max", "value", Euro(*o.MaxDiscount, lang)))
	}
	out = append(out, t("terms."+o.Limit))
	switch {
	case o.ValidFrom != "" && o.ValidUntil != "":
		out = append(out, t("terms.between", "from", localDate(o.ValidFrom, lang), "until", localDate(o.ValidUntil, lang)))
	case o.ValidFrom != "":
		out = append(out, t("terms.from", "date", localDate(o.ValidFrom, lang)))
	case o.ValidUntil != "":
		out = append(out, t("terms.until", "date", localDate(o.ValidUntil, lang)))
	}
	if len(o.Products) > 0 {
		names := make([]string, len(o.Products))
		for i, code := range o.Products {
			if n := card.Localize(productNames[code], lang); n != "" {
				names[i] = n
			} else {
				names[i] = code
			}
		}
		out = append(out, t("terms.products", "products", strings.Join(names, ", ")))
	}
	return out
}

// localDecimal writes hundredths (cents, basis points) as that language writes numbers:
// "1.234,5" in sl, it and de, "1,234.5" in en; trailing zeros of the fraction are dropped
// unless fixed (money keeps its two decimals).
func localDecimal(hundredths int64, lang string, fixed bool) string {
	sign := ""
	if hundredths < 0 {
		sign, hundredths = "-", -hundredths
	}
	whole, frac := strconv.FormatInt(hundredths/100, 10), hundredths%100
	group, point := ".", ","
	if lang == "en" {
		group, point = ",", "."
	}
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(d)
	}
	switch {
	case fixed || frac%10 != 0:
		b.WriteString(point + strconv.FormatInt(100+frac, 10)[1:])
	case frac != 0:
		b.WriteString(point + strconv.FormatInt(frac/10, 10))
	}
	return sign + b.String()
}

// Euro writes cents as euros the language's way: "5,00 €" (sl, it, de), "€5.00" (en).
func Euro(cents int64, lang string) string {
	if lang == "en" {
		return "€" + localDecimal(cents, lang, true)
	}
	return localDecimal(cents, lang, true) + "\u00a0€"
}

// localDate writes a local date YYYY-MM-DD the language's way (Locale.Date): "1. 6. 2026"
// (sl), "1/6/2026" (it), "01.06.2026" (de), "1 Jun 2026" (en). A date that does not parse is
// written as it is.
func localDate(date, lang string) string {
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return date
	}
	return NewLocale(lang).Date(d)
}

// OfferTitle is an offer's title in lang, else in English, else in the first language it
// has (OfferTitleFor with one reader's language and no town's).
func OfferTitle(title map[string]string, lang string) string {
	return OfferTitleFor(title, []string{lang}, nil)
}

// OfferTitleFor is an offer's title for a reader of the languages readers (best first: the
// page's, then Accept-Language's in order): the first of those it has, else English (which a
// tourist reads more often than the town's language: an Italian at Ptuj reads the English
// title, not the Slovene), else the town's languages in order, else any, by card.Languages.
func OfferTitleFor(title map[string]string, readers, town []string) string {
	order := append(append(append(append([]string(nil), readers...), "en"), town...), card.Languages...)
	for _, l := range order {
		if s := title[l]; s != "" {
			return s
		}
	}
	return ""
}

// ReaderLangs are the languages a reader reads, best first: query (?lang=), then those of
// acceptLanguage by their q, each once, only card.Languages.
func ReaderLangs(query, acceptLanguage string) []string {
	var out []string
	if card.ValidLang(query) {
		out = append(out, query)
	}
	type tagQ struct {
		lang string
		q    float64
	}
	var tags []tagQ
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
		if len(tag) >= 2 && card.ValidLang(tag[:2]) && q > 0 {
			tags = append(tags, tagQ{tag[:2], q})
		}
	}
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].q > tags[j].q })
	for _, t := range tags {
		if !slices.Contains(out, t.lang) {
			out = append(out, t.lang)
		}
	}
	return out
}

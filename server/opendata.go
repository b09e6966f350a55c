package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// The open-data catalogue (issue 22, docs/open-data.md):
//
//	GET /api/v1/public/open-data/catalog[?town=…]
//
// A DCAT-AP catalogue in JSON-LD that an open-data portal (data.europa.eu, OPSI) harvests:
// one dcat:Dataset per town, one dcat:Distribution per closed month, whose download URL is
// that month's open-data CSV (GET /api/v1/reports/open-data, server/report.go). Open months
// are never listed: their CSV is 409 month_open until the month is closed.

// Vocabularies of the catalogue: the prefixes of its @context and the EU's authority tables.
const (
	nsDCAT  = "http://www.w3.org/ns/dcat#"
	nsDCT   = "http://purl.org/dc/terms/"
	nsFOAF  = "http://xmlns.com/foaf/0.1/"
	nsVCard = "http://www.w3.org/2006/vcard/ns#"
	nsXSD   = "http://www.w3.org/2001/XMLSchema#"

	euThemes     = "http://publications.europa.eu/resource/authority/data-theme"
	euThemeECON  = euThemes + "/ECON"
	euMonthly    = "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
	euFileCSV    = "http://publications.europa.eu/resource/authority/file-type/CSV"
	euLanguage   = "http://publications.europa.eu/resource/authority/language/"
	ianaTextCSV  = "http://www.iana.org/assignments/media-types/text/csv"
	catalogPath  = "/api/v1/public/open-data/catalog"
	openDataPath = "/api/v1/reports/open-data"
)

// euLanguageCodes are the EU language table's codes of the service's languages.
var euLanguageCodes = map[string]string{"sl": "SLV", "it": "ITA", "en": "ENG", "de": "DEU"}

// catalogTown is one town of the catalogue: the town, the base URL of its addresses and its
// closed months, oldest first.
type catalogTown struct {
	Town   storage.Town
	Base   string
	Closes []storage.MonthClose
}

// handleOpenDataCatalog is GET /api/v1/public/open-data/catalog[?town=…]: every town's
// dataset, or ?town='s only (404 town_not_found for an unknown code). Its ETag is the hash
// of the catalogue, which changes with a close (and with a town's name or privacy fields);
// Last-Modified is the last close.
func (s *server) handleOpenDataCatalog(c *fiber.Ctx) error {
	codes, only := s.db.TownCodes(), c.Query("town")
	if only != "" {
		if _, ok := s.db.CachedTown(only); !ok {
			return errTownNotFound
		}
		codes = []string{only}
	}
	closes, err := s.db.MonthCloseTimes(c.UserContext(), only)
	if err != nil {
		return err
	}
	var towns []catalogTown
	var last time.Time
	for _, code := range codes {
		t, ok := s.db.CachedTown(code)
		if !ok {
			continue
		}
		ct := catalogTown{Town: t, Base: s.townBase(t)}
		for _, cl := range closes {
			if cl.Town == code {
				ct.Closes = append(ct.Closes, cl)
				if cl.ClosedAt.After(last) {
					last = cl.ClosedAt
				}
			}
		}
		towns = append(towns, ct)
	}
	self := s.cfg.PublicURL + catalogPath
	if only != "" {
		self += "?town=" + url.QueryEscape(only)
	}
	publisher, ok := s.db.CachedTown(s.cfg.Town)
	if (only != "" || len(towns) == 1 || !ok) && len(towns) > 0 {
		publisher = towns[0].Town
	}
	// URLs as they are (& not \u0026): a harvester or a person reading the catalogue sees
	// the download addresses it can paste.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(openDataCatalog(self, s.cfg.PublicURL, s.cfg.OpenDataLicense, publisher, towns)); err != nil {
		return err
	}
	body := buf.Bytes()
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	if !last.IsZero() {
		c.Set(fiber.HeaderLastModified, last.UTC().Format(http.TimeFormat))
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && (inm == "*" || slices.Contains(splitETags(inm), etag)) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "application/ld+json; charset=utf-8")
	return c.Send(body)
}

// splitETags are the entity tags of an If-None-Match header, weak ones compared as strong
// (RFC 9110's weak comparison, which If-None-Match uses).
func splitETags(h string) []string {
	var out []string
	for _, p := range strings.Split(h, ",") {
		out = append(out, strings.TrimPrefix(strings.TrimSpace(p), "W/"))
	}
	return out
}

// townBase is the base of a town's public addresses: its public_url, else the deployment's.
func (s *server) townBase(t storage.Town) string {
	if t.PublicURL != "" {
		return t.PublicURL
	}
	return s.cfg.PublicURL
}

// jsonLD is a JSON-LD node or value.
type jsonLD = map[string]any

// openDataCatalog is the DCAT-AP catalogue (self: its own URL, home: the deployment's front
// door) of towns, published by publisher's controller, under licence. Pure: the same
// arguments give the same document.
func openDataCatalog(self, home, licence string, publisher storage.Town, towns []catalogTown) jsonLD {
	var langs []string
	datasets := []jsonLD{}
	var modified time.Time
	for _, ct := range towns {
		for _, l := range ct.Town.Languages {
			if !slices.Contains(langs, l) {
				langs = append(langs, l)
			}
		}
		datasets = append(datasets, openDataset(ct, licence))
		if n := len(ct.Closes); n > 0 && ct.Closes[n-1].ClosedAt.After(modified) {
			modified = ct.Closes[n-1].ClosedAt
		}
	}
	if len(langs) == 0 {
		langs = card.Languages
	}
	tr := func(key string) []jsonLD {
		return texts(langs, func(l string) string { return i18n.Translate("opendata", l, key) })
	}
	cat := jsonLD{
		"@context": jsonLD{"dcat": nsDCAT, "dct": nsDCT, "foaf": nsFOAF, "vcard": nsVCard, "xsd": nsXSD},
		"@id":      self, "@type": "dcat:Catalog",
		"dct:title": tr("catalog.title"), "dct:description": tr("catalog.description"),
		"dct:publisher":      agent(publisher),
		"foaf:homepage":      jsonLD{"@id": home + "/"},
		"dct:license":        jsonLD{"@id": licence},
		"dct:language":       languages(langs),
		"dcat:themeTaxonomy": jsonLD{"@id": euThemes},
		"dcat:dataset":       datasets,
	}
	if !modified.IsZero() {
		cat["dct:modified"] = dateTime(modified)
	}
	return cat
}

// openDataset is a town's dataset: one distribution per closed month.
func openDataset(ct catalogTown, licence string) jsonLD {
	t := ct.Town
	langs := t.Languages
	fill := func(key string, extra ...string) []jsonLD {
		return texts(langs, func(l string) string {
			r := strings.NewReplacer(append([]string{"{card}", t.CardNameIn(l), "{town}", localTownName(t, l)}, extra...)...)
			return r.Replace(i18n.Translate("opendata", l, key))
		})
	}
	kw := []jsonLD{}
	for _, l := range langs {
		for _, k := range []string{"keyword.tourism", "keyword.card"} {
			kw = append(kw, jsonLD{"@value": i18n.Translate("opendata", l, k), "@language": l})
		}
	}
	// The dataset and its distributions are named in the town's catalogue; the CSV files
	// are what the distributions point at, not the distributions.
	self := ct.Base + catalogPath + "?town=" + url.QueryEscape(t.Code)
	ds := jsonLD{
		"@id": self + "#dataset", "@type": "dcat:Dataset",
		"dct:identifier": "citycard-open-data-" + t.Code,
		"dct:title":      fill("dataset.title"), "dct:description": fill("dataset.description"),
		"dct:publisher":          agent(t),
		"dcat:contactPoint":      contactPoint(t, ct.Base),
		"dcat:theme":             jsonLD{"@id": euThemeECON},
		"dcat:keyword":           kw,
		"dct:accrualPeriodicity": jsonLD{"@id": euMonthly},
		"dct:language":           languages(langs),
		"dcat:landingPage":       jsonLD{"@id": ct.Base + "/t/" + t.Code},
		"dct:issued":             dateTime(t.CreatedAt),
		"dct:modified":           dateTime(t.CreatedAt),
	}
	dists := []jsonLD{}
	for _, cl := range ct.Closes {
		csv := ct.Base + openDataPath + "?town=" + url.QueryEscape(t.Code) + "&month=" + cl.Month.String()
		dists = append(dists, jsonLD{
			"@id": self + "#" + cl.Month.String(), "@type": "dcat:Distribution",
			"dct:identifier":   "citycard-open-data-" + t.Code + "-" + cl.Month.String(),
			"dct:title":        fill("distribution.title", "{month}", cl.Month.String()),
			"dcat:accessURL":   jsonLD{"@id": csv},
			"dcat:downloadURL": jsonLD{"@id": csv},
			"dct:format":       jsonLD{"@id": euFileCSV},
			"dcat:mediaType":   jsonLD{"@id": ianaTextCSV},
			"dct:license":      jsonLD{"@id": licence},
			"dct:temporal":     period(cl.Month, cl.Month),
			"dct:issued":       dateTime(cl.ClosedAt),
			"dct:modified":     dateTime(cl.ClosedAt),
		})
	}
	ds["dcat:distribution"] = dists
	if n := len(ct.Closes); n > 0 {
		ds["dct:temporal"] = period(ct.Closes[0].Month, ct.Closes[n-1].Month)
		ds["dct:issued"] = dateTime(ct.Closes[0].ClosedAt)
		ds["dct:modified"] = dateTime(ct.Closes[n-1].ClosedAt)
	}
	return ds
}

// agent is the town's controller as a foaf:Agent: its privacy fields' controller, else the
// municipality of the town in each of its languages.
func agent(t storage.Town) jsonLD {
	a := jsonLD{"@type": "foaf:Agent"}
	if t.Privacy.IsSet() {
		a["foaf:name"] = t.Privacy.Controller
	} else {
		a["foaf:name"] = texts(t.Languages, func(l string) string {
			return strings.ReplaceAll(i18n.Translate("privacy", l, "controller.default"), "{town}", localTownName(t, l))
		})
	}
	return a
}

// contactPoint is where to ask about a town's data: its controller's e-mail address or web
// address, else its privacy notice.
func contactPoint(t storage.Town, base string) jsonLD {
	v := jsonLD{"@type": "vcard:Organization"}
	if t.Privacy.IsSet() {
		v["vcard:fn"] = t.Privacy.Controller
	} else {
		v["vcard:fn"] = agent(t)["foaf:name"]
	}
	switch {
	case t.Privacy.IsSet() && t.Privacy.ContactIsEmail():
		v["vcard:hasEmail"] = jsonLD{"@id": "mailto:" + t.Privacy.Contact}
	case t.Privacy.IsSet():
		v["vcard:hasURL"] = jsonLD{"@id": t.Privacy.Contact}
	default:
		v["vcard:hasURL"] = jsonLD{"@id": base + "/t/" + t.Code + "/privacy"}
	}
	return v
}

// texts is a text in each of langs, language-tagged.
func texts(langs []string, text func(lang string) string) []jsonLD {
	out := make([]jsonLD, 0, len(langs))
	for _, l := range langs {
		out = append(out, jsonLD{"@value": text(l), "@language": l})
	}
	return out
}

// languages are langs as the EU's language table names them.
func languages(langs []string) []jsonLD {
	out := make([]jsonLD, 0, len(langs))
	for _, l := range langs {
		if c, ok := euLanguageCodes[l]; ok {
			out = append(out, jsonLD{"@id": euLanguage + c})
		}
	}
	return out
}

// period is the months from first to last as a dct:PeriodOfTime of calendar dates.
func period(first, last merchant.Month) jsonLD {
	end := time.Date(last.Year, last.Month+1, 0, 12, 0, 0, 0, time.UTC) // the month's last day
	return jsonLD{"@type": "dct:PeriodOfTime",
		"dcat:startDate": jsonLD{"@value": first.String() + "-01", "@type": "xsd:date"},
		"dcat:endDate":   jsonLD{"@value": end.Format(time.DateOnly), "@type": "xsd:date"}}
}

// dateTime is t as an xsd:dateTime literal in UTC, to the second.
func dateTime(t time.Time) jsonLD {
	return jsonLD{"@value": t.UTC().Truncate(time.Second).Format(time.RFC3339), "@type": "xsd:dateTime"}
}

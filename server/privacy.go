package main

import (
	"sort"
	"strconv"
	"strings"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// A town's privacy notice (issue 22, docs/privacy-notice.md):
//
//	GET /privacy[?town=…]   the notice of ?town=, of the town whose public_url host the
//	                        request names, or of the only town; in a network without a town,
//	                        the list of the towns' notices
//	GET /t/{code}/privacy   the town's notice
//
// In the reader's language (as the front door chooses it), in the town's card name and
// colour: the controller (the town's privacy fields, else "the municipality of <town>"), the
// contact, the personal data kept, why, for how long (CITYCARD_RETENTION_DAYS,
// CITYCARD_AUDIT_ADDRESS_DAYS) and the holder's rights.

// privacyPage is what privacy.html shows.
type privacyPage struct {
	Lang     string
	Langs    []string // the town's languages first
	LangHref string   // the page's own address up to the language: "/t/ptuj/privacy?lang="
	T        map[string]string
	V        string
	Title    string // the notice's title, with the card's name
	Town     string // the town's code; "" on the network's list
	Color    string
	CardName string
	Intro    string
	// Controller is the town's controller, else the municipality of the town (Unset).
	Controller, Address, Contact, ContactHref string
	Unset                                     bool
	RetentionHolder, RetentionAddress         string
	Back, BackText                            string     // the town's front door
	Towns                                     []homeTown // the network's list of notices
}

// handlePrivacy serves GET /privacy: the notice of ?town= (404 with the list of the towns for
// an unknown one), else of the town the host names, else of the only town, else the list.
func (s *server) handlePrivacy(c *fiber.Ctx) error {
	if code := c.Query("town"); code != "" {
		if _, ok := s.db.CachedTown(code); !ok {
			c.Status(fiber.StatusNotFound)
			return s.privacyList(c)
		}
		return s.privacyNotice(c, code, "/privacy?town="+code+"&lang=", "/t/"+code)
	}
	code := s.hostTown(c.Hostname())
	if codes := s.db.TownCodes(); code == "" && len(codes) == 1 {
		code = codes[0]
	}
	if code == "" {
		return s.privacyList(c)
	}
	return s.privacyNotice(c, code, "/privacy?lang=", "/")
}

// handleTownPrivacy serves GET /t/{code}/privacy; an unknown town is 404 with the list.
func (s *server) handleTownPrivacy(c *fiber.Ctx) error {
	code := c.Params("code")
	if _, ok := s.db.CachedTown(code); !ok {
		c.Status(fiber.StatusNotFound)
		return s.privacyList(c)
	}
	return s.privacyNotice(c, code, "/t/"+code+"/privacy?lang=", "/t/"+code)
}

// privacyNotice renders town code's notice; langHref is the page's own address up to its
// language, home the town's front door.
func (s *server) privacyNotice(c *fiber.Ctx, code, langHref, home string) error {
	t, _ := s.db.CachedTown(code)
	lang := i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), "")
	tr := func(key string) string { return i18n.Translate("privacy", lang, key) }
	cardName := t.CardNameIn(lang)
	pg := privacyPage{Lang: lang, Langs: s.homeLanguages(t), LangHref: langHref, T: i18n.Catalogue("privacy")[lang], V: assetVersion,
		Title: tr("title") + " · " + cardName, Town: code, Color: t.TownColor(), CardName: cardName,
		Intro:            strings.ReplaceAll(tr("intro"), "{card}", cardName),
		RetentionHolder:  strings.ReplaceAll(tr("retention.holder"), "{days}", strconv.Itoa(s.cfg.RetentionDays)),
		RetentionAddress: strings.ReplaceAll(tr("retention.address"), "{days}", strconv.Itoa(s.cfg.AuditAddressDays)),
		Back:             home + "?lang=" + lang, BackText: strings.ReplaceAll(tr("back"), "{card}", cardName)}
	if p := t.Privacy; p.IsSet() {
		pg.Controller, pg.Address, pg.Contact = p.Controller, p.Address, p.Contact
		if p.ContactIsEmail() {
			pg.ContactHref = "mailto:" + p.Contact
		} else {
			pg.ContactHref = p.Contact
		}
	} else {
		pg.Unset = true
		pg.Controller = strings.ReplaceAll(tr("controller.default"), "{town}", localTownName(t, lang))
	}
	return s.sendPrivacy(c, pg)
}

// localTownName is the town's name in lang (Capodistria in Italian), else in its own
// languages.
func localTownName(t storage.Town, lang string) string {
	if n := card.Localize(t.Name, lang); n != "" {
		return n
	}
	return townName(t, lang)
}

// privacyList serves the network's list of the towns' notices.
func (s *server) privacyList(c *fiber.Ctx) error {
	lang := i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), "")
	pg := privacyPage{Lang: lang, Langs: card.Languages, LangHref: "/privacy?lang=", T: i18n.Catalogue("privacy")[lang], V: assetVersion,
		Title: i18n.Translate("privacy", lang, "network.title"), Color: storage.DefaultTownColor}
	for _, code := range s.db.TownCodes() {
		if t, ok := s.db.CachedTown(code); ok {
			pg.Towns = append(pg.Towns, homeTown{Code: code, Name: townName(t, lang), CardName: t.CardNameIn(lang),
				Href: "/t/" + code + "/privacy?lang=" + lang})
		}
	}
	sort.SliceStable(pg.Towns, func(i, j int) bool { return pg.Towns[i].Name < pg.Towns[j].Name })
	return s.sendPrivacy(c, pg)
}

func (s *server) sendPrivacy(c *fiber.Ctx, pg privacyPage) error {
	return sendTownPage(c, "privacy.html", pg.Lang, pg)
}

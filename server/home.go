package main

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// The front door: "/" is a small page for the town, in the visitor's language, saying what
// the card is, its benefits by category (from the public offers), the cards to be had and
// where, and where the staff's till and console are.

type homePage struct {
	Lang     string
	Langs    []string
	T        map[string]string // the home area's texts in Lang
	Products []homeProduct
	Groups   []homeGroup
	Offers   string // "12 benefits at 9 places"
	V        string
}

type homeProduct struct {
	Name, Validity, Price string
	Resident              bool
}

type homeGroup struct {
	Category string // in Lang
	Items    []homeItem
}

type homeItem struct {
	Merchant, Address, Offer string
	Terms                    []string
}

// handleHome serves the front door.
func (s *server) handleHome(c *fiber.Ctx) error {
	lang := i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), "")
	ctx := c.UserContext()
	pg := homePage{Lang: lang, Langs: card.Languages, T: i18n.Catalogue("home")[lang], V: assetVersion}
	tr := func(key, n string) string { return strings.ReplaceAll(i18n.Translate("home", lang, key), "{n}", n) }

	names := map[string]map[string]string{}
	for page := (storage.Page{Limit: 500}); ; {
		ps, next, err := s.db.Products(ctx, "", page) // every town's: the network's front door
		if err != nil {
			return err
		}
		for _, p := range ps {
			names[p.Code] = p.Name
			hp := homeProduct{Name: i18n.OfferTitle(p.Name, lang), Price: i18n.Euro(p.PriceCents, lang), Resident: p.Audience == "resident"}
			if p.ValidityHours > 0 {
				hp.Validity = tr("valid.hours", strconv.Itoa(p.ValidityHours))
			} else {
				hp.Validity = tr("valid.days", strconv.Itoa(p.ValidityDays))
			}
			pg.Products = append(pg.Products, hp)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}

	byCat := map[string][]homeItem{}
	places := map[string]bool{}
	n := 0
	for page := (storage.Page{Limit: 500}); ; {
		items, next, err := s.db.PublicOffers(ctx, "", page)
		if err != nil {
			return err
		}
		for _, it := range items {
			byCat[it.Merchant.Category] = append(byCat[it.Merchant.Category], homeItem{
				Merchant: it.Merchant.Name, Address: it.Merchant.Address, Offer: i18n.OfferTitle(it.Offer.Title, lang),
				Terms: i18n.OfferTerms(it.Offer, lang, names)})
			places[it.Merchant.ID] = true
			n++
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	for _, cat := range merchant.Categories {
		if items := byCat[cat]; len(items) > 0 {
			sort.SliceStable(items, func(i, j int) bool { return items[i].Merchant < items[j].Merchant })
			pg.Groups = append(pg.Groups, homeGroup{Category: i18n.Translate("card", lang, "cat."+cat), Items: items})
		}
	}
	pg.Offers = strings.NewReplacer("{n}", strconv.Itoa(n), "{m}", strconv.Itoa(len(places))).Replace(i18n.Translate("home", lang, "offers.count"))

	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "home.html", pg); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentLanguage, lang)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptLanguage)
	c.Type("html", "utf-8")
	return c.Send(buf.Bytes())
}

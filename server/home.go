package main

import (
	"bytes"
	"math"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// The front door. A town's page (its card, in the visitor's language: what the card is, its
// benefits by category from the public offers, the cards to be had and where, and where the
// staff's till and console are) is "/" of a single-town deployment, "/" of a request whose
// Host is the town's public_url host, and "/t/{code}". "/" of a deployment of several towns
// lists the towns, each with its card name, colour and a link to its page, and the cards
// valid in several towns with where they are valid.

type homePage struct {
	Lang     string
	Langs    []string
	Base     string            // the page's own path, for its language links: "/" or "/t/ptuj"
	T        map[string]string // the home area's texts in Lang
	Title    string            // the town's card name, or the network's title
	Tagline  string
	Color    string     // the page's colour, #rrggbb
	Town     string     // the town's code; "" on the network's list
	Towns    []homeTown // the network's list of towns
	Products []homeProduct
	Groups   []homeGroup
	Offers   string // "12 benefits at 9 places"
	V        string
}

// homeTown is one town on the network's front door.
type homeTown struct {
	Code, Name, CardName, Href string
}

type homeProduct struct {
	Name, Validity, Price string
	ValidIn               string // "valid in: Koper, Ptuj" for a card of several towns
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

// handleHome serves "/": the page of the town whose public_url host the request names, of the
// only town, or else the list of the towns.
func (s *server) handleHome(c *fiber.Ctx) error {
	if code := s.hostTown(c.Hostname()); code != "" {
		return s.townHome(c, code, "/")
	}
	if codes := s.db.TownCodes(); len(codes) == 1 {
		return s.townHome(c, codes[0], "/")
	}
	return s.networkHome(c)
}

// handleTownHome serves "/t/{code}": the town's page; for an unknown town, 404 with the list
// of the towns, so a person who mistyped it finds theirs.
func (s *server) handleTownHome(c *fiber.Ctx) error {
	code := c.Params("code")
	if _, ok := s.db.CachedTown(code); !ok {
		c.Status(fiber.StatusNotFound)
		return s.networkHome(c)
	}
	return s.townHome(c, code, "/t/"+code)
}

// hostTown is the code of the town whose public_url names host (ports and case aside); "" if
// none does, or if several do (towns sharing the deployment's address: the host says nothing).
func (s *server) hostTown(host string) string {
	host = bareHost(host)
	if host == "" {
		return ""
	}
	found := ""
	for _, code := range s.db.TownCodes() {
		t, ok := s.db.CachedTown(code)
		if !ok || t.PublicURL == "" {
			continue
		}
		if u, err := url.Parse(t.PublicURL); err == nil && bareHost(u.Host) == host {
			if found != "" {
				return ""
			}
			found = code
		}
	}
	return found
}

// bareHost is host without its port, in lower case.
func bareHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// handleTownsCSS is /towns.css: each town's colour as CSS custom properties of the elements
// marked with its code, [data-town="ptuj"] { --town-color; --town-fg }, which the pages'
// headers use (the Content-Security-Policy allows no inline style, so the colours come as a
// stylesheet). Pages mark <html> with their town; the till and the console once they know it.
func (s *server) handleTownsCSS(c *fiber.Ctx) error {
	var b strings.Builder
	b.WriteString("/* Each town's colour (PATCH /api/v1/towns/{code}): the pages' header and accents. */\n")
	for _, code := range s.db.TownCodes() {
		t, ok := s.db.CachedTown(code)
		if !ok {
			continue
		}
		b.WriteString(`[data-town="` + code + `"] { ` + townTheme(t.TownColor()) + " }\n")
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Type("css", "utf-8")
	return c.SendString(b.String())
}

// townTheme is the CSS custom properties of a page in colour: --town-color, and --town-fg,
// white or dark, whichever reads better on it (WCAG contrast).
func townTheme(color string) string {
	return "--town-color: " + color + "; --town-fg: " + textOn(color) + ";"
}

// textOn is the text colour that reads best on the background colour (#rrggbb): white, or the
// pages' dark text, by the WCAG contrast ratio of each with it.
func textOn(color string) string {
	const dark = "#1b2733"
	l := luminance(color)
	if (1.05)/(l+0.05) >= (l+0.05)/(luminance(dark)+0.05) {
		return "#ffffff"
	}
	return dark
}

// luminance is the WCAG relative luminance of #rrggbb (0 for anything else).
func luminance(color string) float64 {
	if len(color) != 7 || color[0] != '#' {
		return 0
	}
	lin := func(hex string) float64 {
		v, err := strconv.ParseUint(hex, 16, 8)
		if err != nil {
			return 0
		}
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(color[1:3]) + 0.7152*lin(color[3:5]) + 0.0722*lin(color[5:7])
}

// townHome serves the page of town at base ("/" or "/t/{code}").
func (s *server) townHome(c *fiber.Ctx, code, base string) error {
	t, _ := s.db.CachedTown(code)
	lang := i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), "")
	ctx := c.UserContext()
	cardName := t.CardNameIn(lang)
	pg := homePage{Lang: lang, Langs: s.homeLanguages(t), Base: base, T: i18n.Catalogue("home")[lang], V: assetVersion,
		Title: cardName, Tagline: strings.ReplaceAll(i18n.Translate("home", lang, "tagline"), "{card}", cardName),
		Color: t.TownColor(), Town: code}
	tr := func(key, n string) string { return strings.ReplaceAll(i18n.Translate("home", lang, key), "{n}", n) }

	names := map[string]map[string]string{}
	for page := (storage.Page{Limit: 500}); ; {
		ps, next, err := s.db.Products(ctx, code, page) // the town's own and the network's accepting it
		if err != nil {
			return err
		}
		for _, p := range ps {
			names[p.Code] = p.Name
			pg.Products = append(pg.Products, s.homeProduct(p, lang, tr, code))
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
		items, next, err := s.db.PublicOffers(ctx, code, page)
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
	return s.sendHome(c, pg)
}

// homeProduct is p as the front door lists it; a card valid in more towns than here says
// where (here: the page's town, "" on the network's list).
func (s *server) homeProduct(p card.Product, lang string, tr func(key, n string) string, here string) homeProduct {
	hp := homeProduct{Name: i18n.OfferTitle(p.Name, lang), Price: i18n.Euro(p.PriceCents, lang), Resident: p.Audience == "resident"}
	if p.ValidityHours > 0 {
		hp.Validity = tr("valid.hours", strconv.Itoa(p.ValidityHours))
	} else {
		hp.Validity = tr("valid.days", strconv.Itoa(p.ValidityDays))
	}
	towns := p.Towns
	if len(towns) == 0 && p.Town != "" {
		towns = []string{p.Town}
	}
	if len(towns) > 1 || (len(towns) == 1 && towns[0] != here) {
		hp.ValidIn = strings.ReplaceAll(i18n.Translate("home", lang, "valid.in"), "{towns}", s.townNames(towns, lang))
	}
	return hp
}

// townNames are the names of the towns in lang (Capodistria in Italian), by name, joined by
// commas.
func (s *server) townNames(codes []string, lang string) string {
	var out []string
	for _, c := range codes {
		if t, ok := s.db.CachedTown(c); ok {
			n := card.Localize(t.Name, lang)
			if n == "" {
				n = townName(t, lang)
			}
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// homeLanguages are a town page's language choices: the town's own first, then the others.
func (s *server) homeLanguages(t storage.Town) []string {
	out := append([]string(nil), t.Languages...)
	for _, l := range card.Languages {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// networkHome serves "/" of a deployment of several towns: the towns, each with its card
// name, colour and a link to its page, and the cards valid in several towns.
func (s *server) networkHome(c *fiber.Ctx) error {
	lang := i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), "")
	pg := homePage{Lang: lang, Langs: card.Languages, Base: "/", T: i18n.Catalogue("home")[lang], V: assetVersion,
		Title: i18n.Translate("home", lang, "title"), Tagline: i18n.Translate("home", lang, "network.tagline"),
		Color: storage.DefaultTownColor}
	for _, code := range s.db.TownCodes() {
		t, ok := s.db.CachedTown(code)
		if !ok {
			continue
		}
		pg.Towns = append(pg.Towns, homeTown{Code: code, Name: townName(t, lang), CardName: t.CardNameIn(lang),
			Href: "/t/" + code + "?lang=" + lang})
	}
	sort.SliceStable(pg.Towns, func(i, j int) bool { return pg.Towns[i].Name < pg.Towns[j].Name })
	tr := func(key, n string) string { return strings.ReplaceAll(i18n.Translate("home", lang, key), "{n}", n) }
	for page := (storage.Page{Limit: 500}); ; {
		ps, next, err := s.db.Products(c.UserContext(), "", page)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if len(p.Towns) > 1 {
				pg.Products = append(pg.Products, s.homeProduct(p, lang, tr, ""))
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	return s.sendHome(c, pg)
}

func (s *server) sendHome(c *fiber.Ctx, pg homePage) error {
	return sendTownPage(c, "home.html", pg.Lang, pg)
}

// sendTownPage renders a public page of a town (or of the list of the towns) in lang: which
// town and language it shows depend on the Host and Accept-Language, which caches are told.
func sendTownPage(c *fiber.Ctx, name, lang string, data any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentLanguage, lang)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptLanguage+", Host")
	c.Type("html", "utf-8")
	return c.Send(buf.Bytes())
}

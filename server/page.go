package main

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

//go:embed web
var webFS embed.FS

// pages are parsed once at start-up.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"t": func(lang, key string) string {
		if s, ok := i18n.Catalogue("card")[lang][key]; ok {
			return s
		}
		return i18n.Catalogue("card")["en"][key]
	},
	// catalogue is an area's texts in all four languages, for a page's script to choose from.
	"catalogue": func(area string) map[string]map[string]string { return i18n.Catalogue(area) },
}).ParseFS(webFS, "web/*.html"))

// cardPage is what the card page template shows.
type cardPage struct {
	Lang, Token, Number, ProductName, Status string
	TimeLeft, ActivateBy, ExpiresAt          string
	ExpiresUnix                              int64
	Towns                                    []townGroup // the card's town first
	Available, Total                         int
	Langs                                    []string
	Updated, UpdatedISO, TZ                  string
	V                                        string // asset version, so a new binary's CSS and JS are fetched anew
	Town, CardName, Color                    string // the card's town: its code, its card's name in Lang, its colour
	ValidIn                                  string // "Valid in: Koper, Ptuj" for a card several towns accept
	// AppleWallet and GoogleWallet are the links of the wallets' badges, "" for a wallet
	// not configured (server/wallet.go).
	AppleWallet, GoogleWallet string
}

// townGroup is the benefits of one town that accepts the card, by category.
type townGroup struct {
	Code   string
	Name   string // in the town's own languages first: "Koper · Capodistria"
	Lang   string // the town's own language, the heading's
	Groups []benefitGroup
}

type benefitGroup struct {
	Category string
	Items    []benefitItem
}

type benefitItem struct {
	Merchant, Address, Offer, MapURL string
	Local                            []localText // the offer's title in the town's own languages, where it differs
	Terms                            []string    // the offer's terms in the page's language (i18n.OfferTerms)
	Available                        bool
	UsedAt, Reason                   string
}

// localText is a text in one language, for its lang attribute.
type localText struct{ Lang, Text string }

func (s *server) handleCardPage(c *fiber.Ctx) error {
	token := c.Params("token")
	cd, p, states, err := s.publicCard(c, token)
	if err != nil {
		return err
	}
	lang := i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), cd.Lang)
	// Offer titles fall back along the reader's languages (the page's first), then English,
	// then each town's own (i18n.OfferTitleFor).
	readers := append([]string{lang}, i18n.ReaderLangs(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage))...)
	l := i18n.NewLocale(lang)
	now := s.db.Now()
	pg := cardPage{
		Lang: lang, Token: token, Number: card.FormatNumber(cd.Number), ProductName: card.Localize(p.Name, lang),
		Status: string(cd.Status(now)), Langs: s.cardLanguages(cd.Town), Updated: l.DateTime(now, s.db.TownLoc(cd.Town)),
		UpdatedISO: now.UTC().Format(time.RFC3339), TZ: s.db.TownLoc(cd.Town).String(), V: assetVersion,
	}
	if t, ok := s.db.CachedTown(cd.Town); ok {
		pg.Town, pg.CardName, pg.Color = t.Code, t.CardNameIn(lang), t.TownColor()
	}
	if len(p.Towns) > 1 {
		pg.ValidIn = strings.ReplaceAll(i18n.Translate("card", lang, "valid_in"), "{towns}", s.townNames(p.Towns, lang))
	}
	if left := cd.TimeLeft(now); left > 0 {
		pg.TimeLeft = i18n.Duration(left, lang)
	}
	if cd.ExpiresAt != nil {
		pg.ExpiresAt, pg.ExpiresUnix = l.Until(*cd.ExpiresAt, s.db.TownLoc(cd.Town)), cd.ExpiresAt.Unix()
		if pg.Status == string(card.StatusExpired) {
			pg.ExpiresAt = l.DateTime(*cd.ExpiresAt, s.db.TownLoc(cd.Town)) // when it ended, not its last minute
		}
	}
	pg.ActivateBy = l.Until(cd.ActivateBy, s.db.TownLoc(cd.Town))
	pg.AppleWallet, pg.GoogleWallet = s.walletLinks(token)
	names, err := s.productNames(c, states)
	if err != nil {
		return err
	}
	// A single-town deployment's page is as it was: one language, no town headings.
	pg.Towns = groupByTown(states, readers, cd.Town, len(s.db.TownCodes()) > 1, s.db.CachedTown, s.db.TownLoc, names)
	for _, tg := range pg.Towns {
		for _, g := range tg.Groups {
			for _, it := range g.Items {
				pg.Total++
				if it.Available {
					pg.Available++
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "card.html", pg); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentLanguage, lang)
	c.Type("html", "utf-8")
	return c.Send(buf.Bytes())
}

// rank orders benefits: available ones first, then the used ones, then the rest.
func (b benefitItem) rank() int {
	switch {
	case b.Available:
		return 0
	case b.UsedAt != "":
		return 1
	}
	return 2
}

// productNames are the names of the products the offers of states are limited to, by town
// and code (codes are unique per town: an offer names the products its town sees, its own
// and the network products accepting it); nil, without a query, when no offer is limited.
func (s *server) productNames(c *fiber.Ctx, states []storage.OfferState) (map[string]map[string]map[string]string, error) {
	limited := false
	for _, st := range states {
		limited = limited || len(st.Offer.Products) > 0
	}
	if !limited {
		return nil, nil
	}
	names := map[string]map[string]map[string]string{}
	for page := (storage.Page{Limit: 500}); ; {
		ps, next, err := s.db.Products(c.UserContext(), "", page) // offers of every town that accepts the card
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			for _, t := range append([]string{p.Town}, p.Towns...) {
				if names[t] == nil {
					names[t] = map[string]map[string]string{}
				}
				names[t][p.Code] = p.Name
			}
		}
		if next == "" {
			return names, nil
		}
		page.Cursor = next
	}
}

// cardLanguages are the page's language choices: the card's town's languages first (Koper's
// Slovene and Italian), then the others.
func (s *server) cardLanguages(town string) []string {
	t, _ := s.db.CachedTown(town)
	out := append([]string(nil), t.Languages...)
	for _, l := range card.Languages {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// groupByTown sorts benefits by the town of their merchant, the card's own town first and the
// others by name, each town's by category. In a network (several towns) a town's heading and
// each offer's title are also shown in the town's own languages (a bilingual town in both).
func groupByTown(states []storage.OfferState, readers []string, cardTown string, network bool, town func(string) (storage.Town, bool), loc func(string) *time.Location, productNames map[string]map[string]map[string]string) []townGroup {
	byTown := map[string][]storage.OfferState{}
	var codes []string
	for _, st := range states {
		code := st.Merchant.Town
		if _, ok := byTown[code]; !ok {
			codes = append(codes, code)
		}
		byTown[code] = append(byTown[code], st)
	}
	lang := readers[0]
	out := make([]townGroup, 0, len(codes))
	for _, code := range codes {
		t, _ := town(code)
		var local []string
		if network {
			local = t.Languages
		}
		g := townGroup{Code: code, Name: townName(t, lang), Lang: lang,
			Groups: groupBenefits(byTown[code], readers, t.Languages, local, loc(code), productNames[code])}
		if len(t.Languages) > 0 {
			g.Lang = t.Languages[0]
		}
		out = append(out, g)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].Code == cardTown, out[j].Code == cardTown; a != b {
			return a
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// townName is a town's name in its own languages, distinct ones joined ("Koper · Capodistria"),
// else in lang, else its code.
func townName(t storage.Town, lang string) string {
	var names []string
	for _, l := range t.Languages {
		if n := t.Name[l]; n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		if n := card.Localize(t.Name, lang); n != "" {
			return n
		}
		return t.Code
	}
	return strings.Join(names, " · ")
}

// groupBenefits sorts benefits into categories in the order of merchant.Categories. Each
// offer's title is in the first of the readers' languages it has (readers[0] is the page's),
// else English, else the town's (townLangs), with its titles in the town's languages (local)
// that differ.
func groupBenefits(states []storage.OfferState, readers, townLangs []string, local []string, loc *time.Location, productNames map[string]map[string]string) []benefitGroup {
	lang := readers[0]
	byCat := map[string][]benefitItem{}
	for _, st := range states {
		it := benefitItem{Merchant: st.Merchant.Name, Address: st.Merchant.Address, Offer: i18n.OfferTitleFor(st.Offer.Title, readers, townLangs),
			Terms: i18n.OfferTerms(st.Offer, lang, productNames), Available: st.Reason == nil}
		for _, l := range local {
			if text := st.Offer.Title[l]; text != "" && text != it.Offer && !slices.ContainsFunc(it.Local, func(x localText) bool { return x.Text == text }) {
				it.Local = append(it.Local, localText{l, text})
			}
		}
		if st.Merchant.Lat != nil {
			lat, lon := strconv.FormatFloat(*st.Merchant.Lat, 'f', 6, 64), strconv.FormatFloat(*st.Merchant.Lon, 'f', 6, 64)
			it.MapURL = "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lon + "#map=18/" + lat + "/" + lon
		}
		if st.UsedAt != nil {
			it.UsedAt = i18n.NewLocale(lang).DateTime(*st.UsedAt, loc)
		}
		// A card that cannot be used says so once at the top, not on every benefit.
		if code := errorCode(st.Reason); st.Reason != nil && code != "card_expired" && code != "card_blocked" {
			it.Reason = "reason." + code
		}
		byCat[st.Merchant.Category] = append(byCat[st.Merchant.Category], it)
	}
	var out []benefitGroup
	for _, cat := range merchant.Categories {
		if items := byCat[cat]; len(items) > 0 {
			sort.SliceStable(items, func(i, j int) bool { return items[i].rank() < items[j].rank() })
			out = append(out, benefitGroup{Category: cat, Items: items})
		}
	}
	return out
}

// wantsHTML reports whether an error should be shown as a page: the card page's paths.
func wantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	return strings.HasPrefix(p, "/c/") && !strings.HasSuffix(p, ".png") && !strings.HasSuffix(p, ".webmanifest")
}

// handleCardManifest is the web app manifest of one card's page, so that "add to home screen"
// opens that card, full screen, and keeps working offline through the service worker.
func (s *server) handleCardManifest(c *fiber.Ctx) error {
	token := c.Params("token")
	cd, p, _, err := s.publicCard(c, token)
	if err != nil {
		return err
	}
	name := card.Localize(p.Name, i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), cd.Lang))
	c.Set(fiber.HeaderContentType, "application/manifest+json")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(fiber.Map{
		"name": name, "short_name": shortName(name), "id": "/c/" + token, "start_url": "/c/" + token, "scope": "/c/" + token,
		"display": "standalone", "background_color": "#f4f6f8", "theme_color": townColor(s.db, cd.Town),
		"icons": []fiber.Map{
			{"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
			{"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
			{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
		},
	}, "application/manifest+json")
}

// handlePosManifest serves the web till's manifest, so a shop installs /pos on its phone's
// home screen and it opens full-screen, served by the service worker when offline.
func (s *server) handlePosManifest(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/manifest+json")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(fiber.Map{
		"name": "citycard till", "short_name": "Till", "id": "/pos", "start_url": "/pos", "scope": "/pos",
		"display": "standalone", "orientation": "portrait", "background_color": "#f4f6f8", "theme_color": pageColor(s.pageTown(c)),
		"icons": []fiber.Map{
			{"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
			{"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
			{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
		},
	}, "application/manifest+json")
}

// shortName fits a product name under a home-screen icon: its first two words.
func shortName(name string) string {
	if f := strings.Fields(name); len(f) > 2 {
		return f[0] + " " + f[1]
	}
	return name
}

// handleServiceWorker serves the card page's service worker from the site's root, so that it
// may control /c/. Its cache is named after the asset version, so a new binary replaces it.
func (s *server) handleServiceWorker(c *fiber.Ctx) error {
	b, err := fs.ReadFile(webFS, "web/sw.js")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(bytes.ReplaceAll(b, []byte("__VERSION__"), []byte(assetVersion)))
}

// posPage is the till's shell with its message catalogue in all four languages: the till's
// language is the clerk's choice, kept in the browser, so the script picks it.
type posPage struct {
	V        string
	Messages map[string]map[string]string
	Town     *townFaceJSON // the town the page shows before it signs in (pageTown)
}

func (s *server) handlePosPage(c *fiber.Ctx) error {
	return s.sendPage(c, "pos.html", posPage{assetVersion, i18n.Catalogue("pos"), s.pageTown(c)})
}

// adminPage is what the office's console needs besides its script: its texts in the four
// languages (inlined as a JSON data block, which the CSP allows as it never runs) and the
// town's zone, in which "last month" is reckoned.
type adminPage struct {
	V    string
	TZ   string
	I18n map[string]map[string]string
	Town *townFaceJSON // the town the page shows before it signs in (pageTown)
}

func (s *server) handleAdminPage(c *fiber.Ctx) error {
	return s.sendPage(c, "admin.html", adminPage{V: assetVersion, TZ: s.cfg.Loc.String(), I18n: consoleTexts, Town: s.pageTown(c)})
}

// townColor is town's colour; the default for a town not known.
func townColor(db *storage.DB, town string) string {
	t, _ := db.CachedTown(town)
	return t.TownColor()
}

// pageColor is the colour of a page's town, the default without one.
func pageColor(t *townFaceJSON) string {
	if t == nil {
		return storage.DefaultTownColor
	}
	return t.Color
}

// pageTown is the town a till's or console's page shows before it signs in: the town whose
// public_url host the request names, else the only town; nil in a network (the page learns
// its town when it signs in).
func (s *server) pageTown(c *fiber.Ctx) *townFaceJSON {
	code := s.hostTown(c.Hostname())
	if codes := s.db.TownCodes(); code == "" && len(codes) == 1 {
		code = codes[0]
	}
	t, ok := s.db.CachedTown(code)
	if !ok {
		return nil
	}
	f := toTownFaceJSON(t)
	return &f
}

// consoleTexts are the console's texts: the office's areas (admin) and the network's (towns:
// towns, office tokens, the network report), one catalogue per area so that two people never
// edit the same file. Their keys must not overlap (TestConsoleTextsDistinct).
var consoleTexts = mergeAreas("admin", "towns")

// mergeAreas joins the catalogues of areas, language by language.
func mergeAreas(areas ...string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, area := range areas {
		for lang, m := range i18n.Catalogue(area) {
			if out[lang] == nil {
				out[lang] = map[string]string{}
			}
			for k, v := range m {
				out[lang][k] = v
			}
		}
	}
	return out
}

func (s *server) sendPage(c *fiber.Ctx, name string, data any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Type("html", "utf-8")
	return c.Send(buf.Bytes())
}

// renderErrorPage shows a friendly page for a card URL that does not open.
func renderErrorPage(c *fiber.Ctx, status int, code string) error {
	lang := i18n.PickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), "")
	if code == "card_invalid" {
		status = fiber.StatusNotFound // a scanned page that does not open is "not found" to a person
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "error.html", map[string]any{"Lang": lang, "Code": code, "Status": status}); err != nil {
		return c.Status(500).SendString("internal error")
	}
	c.Type("html", "utf-8")
	return c.Status(status).Send(buf.Bytes())
}

var staticFS, _ = fs.Sub(webFS, "web/static")

// assetVersion is a digest of the embedded assets: pages ask for /static/x.js?v=assetVersion,
// so a browser never mixes an old script with a new page.
var assetVersion = func() string {
	h := sha256.New()
	fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(webFS, p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)[:6])
}()

// handleStatic serves the embedded assets; they change only with the binary.
func (s *server) handleStatic(c *fiber.Ctx) error {
	name, err := url.PathUnescape(c.Params("*"))
	if err != nil || name == "" || strings.Contains(name, "..") {
		return fiber.ErrNotFound
	}
	b, err := fs.ReadFile(staticFS, path.Clean(name))
	if err != nil {
		return fiber.ErrNotFound
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		c.Set(fiber.HeaderContentType, ct)
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Send(b)
}

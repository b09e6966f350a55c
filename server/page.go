package main

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

//go:embed web
var webFS embed.FS

// pages are parsed once at start-up.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"t": func(lang, key string) string {
		if s, ok := messages[lang][key]; ok {
			return s
		}
		return messages["en"][key]
	},
}).ParseFS(webFS, "web/*.html"))

// cardPage is what the card page template shows.
type cardPage struct {
	Lang, Token, Number, ProductName, Status string
	TimeLeft, ActivateBy, ExpiresAt          string
	ExpiresUnix                              int64
	Groups                                   []benefitGroup
	Langs                                    []string
	Now                                      string
}

type benefitGroup struct {
	Category string
	Items    []benefitItem
}

type benefitItem struct {
	Merchant, Address, Offer, MapURL string
	Available                        bool
	UsedAt, Reason                   string
}

func (s *server) handleCardPage(c *fiber.Ctx) error {
	token := c.Params("token")
	cd, p, states, err := s.publicCard(c, token)
	if err != nil {
		return err
	}
	lang := pickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), cd.Lang)
	now := s.db.Now()
	pg := cardPage{
		Lang: lang, Token: token, Number: card.FormatNumber(cd.Number), ProductName: card.Localize(p.Name, lang),
		Status: string(cd.Status(now)), Langs: card.Languages, Now: localTime(now, s.cfg.Loc),
	}
	if left := cd.TimeLeft(now); left > 0 {
		pg.TimeLeft = formatDuration(left, lang)
	}
	if cd.ExpiresAt != nil {
		pg.ExpiresAt, pg.ExpiresUnix = localTime(*cd.ExpiresAt, s.cfg.Loc), cd.ExpiresAt.Unix()
	}
	pg.ActivateBy = localTime(cd.ActivateBy, s.cfg.Loc)
	pg.Groups = groupBenefits(states, lang, s.cfg.Loc)
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "card.html", pg); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentLanguage, lang)
	c.Type("html", "utf-8")
	return c.Send(buf.Bytes())
}

// groupBenefits sorts benefits into categories in the order of merchant.Categories.
func groupBenefits(states []storage.OfferState, lang string, loc *time.Location) []benefitGroup {
	byCat := map[string][]benefitItem{}
	for _, st := range states {
		it := benefitItem{Merchant: st.Merchant.Name, Address: st.Merchant.Address, Offer: card.Localize(st.Offer.Title, lang), Available: st.Reason == nil}
		if st.Merchant.Lat != nil {
			lat, lon := strconv.FormatFloat(*st.Merchant.Lat, 'f', 6, 64), strconv.FormatFloat(*st.Merchant.Lon, 'f', 6, 64)
			it.MapURL = "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lon + "#map=18/" + lat + "/" + lon
		}
		if st.UsedAt != nil {
			it.UsedAt = localTime(*st.UsedAt, loc)
		}
		if st.Reason != nil {
			it.Reason = "reason." + errorCode(st.Reason)
		}
		byCat[st.Merchant.Category] = append(byCat[st.Merchant.Category], it)
	}
	var out []benefitGroup
	for _, cat := range merchant.Categories {
		if items := byCat[cat]; len(items) > 0 {
			sort.SliceStable(items, func(i, j int) bool { return items[i].Available && !items[j].Available })
			out = append(out, benefitGroup{Category: cat, Items: items})
		}
	}
	return out
}

func localTime(t time.Time, loc *time.Location) string { return t.In(loc).Format("2. 1. 2006 15:04") }

// formatDuration writes a time left as "2 d 5 h" or "3 h 20 min".
func formatDuration(d time.Duration, lang string) string {
	m := messages[lang]
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return strconv.Itoa(days) + " " + m["days"] + " " + strconv.Itoa(hours) + " " + m["hours"]
	case hours > 0:
		return strconv.Itoa(hours) + " " + m["hours"] + " " + strconv.Itoa(mins) + " " + m["minutes"]
	}
	return strconv.Itoa(max(mins, 1)) + " " + m["minutes"]
}

// wantsHTML reports whether an error should be shown as a page: the card page's paths.
func wantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	return strings.HasPrefix(p, "/c/") && !strings.HasSuffix(p, ".png")
}

// renderErrorPage shows a friendly page for a card URL that does not open.
func renderErrorPage(c *fiber.Ctx, status int, code string) error {
	lang := pickLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), "")
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

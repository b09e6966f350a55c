package main

// Browser tests of the office's console as its staff use it: the service desk, issuing and
// reprinting a named batch, the month's finance and the console's languages, in Slovene and
// Italian, on a phone (360 px) and a desk (1280 px).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

// consoleTab is a console tab signed in, in language lang at width px, whose downloads land
// in dir and whose API responses are recorded.
type consoleTab struct {
	ctx   context.Context
	dir   string
	width int

	mu        sync.Mutex
	responses []apiResponse
	used      int             // responses[:used] were returned by fetched
	seen      map[string]bool // downloaded files already returned by nextDownload
	holding   bool            // holdFirst: the next request of its pattern is held
	held      chan fetch.RequestID
}

// downloadPatterns are the requests whose responses the tab records (the downloads).
var downloadPatterns = []*fetch.RequestPattern{
	{URLPattern: "*format=*", RequestStage: fetch.RequestStageResponse},
	{URLPattern: "*sheet.pdf*", RequestStage: fetch.RequestStageResponse}}

// holdFirst makes the next request whose URL matches pattern (a Fetch pattern, * for any
// text) wait in the browser, unanswered, until release is called; later ones of the pattern
// go through: a slow first answer that arrives after the page asked its next question.
// release fails the test if no request was held.
func (ct *consoleTab) holdFirst(t *testing.T, pattern string) (release func()) {
	t.Helper()
	ct.mu.Lock()
	ct.holding, ct.held = true, make(chan fetch.RequestID, 1)
	held := ct.held
	ct.mu.Unlock()
	patterns := append([]*fetch.RequestPattern{{URLPattern: pattern, RequestStage: fetch.RequestStageRequest}}, downloadPatterns...)
	do(t, ct.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: patterns})
		return err
	}))
	return releaser(t, ct.ctx, held, pattern)
}

type apiResponse struct {
	path, mime string
	body       []byte
}

func openConsole(t *testing.T, a *liveApp, tabs context.Context, lang string, width int, hash string) *consoleTab {
	t.Helper()
	// The download folder is made before the tab, so that it is removed after the tab closes;
	// downloads are stopped first, so the browser writes nothing into it while it goes.
	dir := t.TempDir()
	ctx := newTab(t, tabs)
	t.Cleanup(func() {
		chromedp.CallBrowser(tabs, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorDeny})
	})
	ct := &consoleTab{ctx: ctx, dir: dir, width: width, seen: map[string]bool{}}
	// Downloads are paused at the response stage, their bodies read, then let through.
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if ev.ResponseStatusCode == 0 && ev.ResponseErrorReason == "" { // paused before it was sent: holdFirst
				ct.mu.Lock()
				hold := ct.holding
				ct.holding = false
				ct.mu.Unlock()
				if hold {
					ct.held <- ev.RequestID
				} else {
					chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				}
				continue
			}
			path := ev.Request.URL
			if i := strings.Index(path, "/api/"); i >= 0 {
				path = path[i:]
			}
			r := apiResponse{path: path}
			for _, h := range ev.ResponseHeaders {
				if strings.EqualFold(h.Name, "Content-Type") {
					r.mime = h.Value
				}
			}
			if body, err := chromedp.Call(ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: ev.RequestID}); err == nil {
				r.body = body.Body
			}
			chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			ct.mu.Lock()
			ct.responses = append(ct.responses, r)
			ct.mu.Unlock()
		}
	}()
	height := int64(900)
	if width < 700 {
		height = 760
	}
	do(t, ctx, viewport(int64(width), height), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: downloadPatterns}); err != nil {
			return err
		}
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: ct.dir})
		return err
	}))
	do(t, ctx, chromedp.Navigate(a.URL+"/admin"+hash), waitJS(`!!document.getElementById("lang")`),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem("citycard.admin.lang", `+jsString(lang)+`)`),
		chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`), chromedp.SendKeys(chromedp.ID("token"), a.adminToken+"\r"),
		waitJS(`!document.getElementById("tabs").hidden`))
	if got := eval[string](t, ctx, `document.documentElement.lang`); got != lang {
		t.Fatalf("console opened in %q, want %q", got, lang)
	}
	return ct
}

// nextDownload waits for a download not returned before and gives its name and bytes.
func (ct *consoleTab) nextDownload(t *testing.T) (string, []byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(ct.dir)
		for _, e := range entries {
			n := e.Name()
			if ct.seen[n] || strings.HasSuffix(n, ".crdownload") || strings.HasPrefix(n, ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(ct.dir, n))
			if err != nil || len(b) == 0 {
				continue
			}
			ct.seen[n] = true
			return n, b
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, _ := os.ReadDir(ct.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	errs := eval[string](t, ct.ctx, `[...document.querySelectorAll(".error")].map(e => e.textContent).filter(Boolean).join("; ")`)
	t.Fatalf("no new download in %s (files %q, errors on the page: %q)", ct.dir, names, errs)
	return "", nil
}

// fetched waits for the next API response (after those returned before) to a path starting
// with prefix and gives its content type and body: what a download button fetched. Headless
// Chromium lets a page save only its first download without asking, so later ones are
// checked here, as the browser received them.
func (ct *consoleTab) fetched(t *testing.T, prefix string) (string, []byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ct.mu.Lock()
		var found *apiResponse
		for i := ct.used; i < len(ct.responses); i++ {
			if strings.HasPrefix(ct.responses[i].path, prefix) {
				r := ct.responses[i]
				found, ct.used = &r, i+1
				break
			}
		}
		ct.mu.Unlock()
		if found == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return found.mime, found.body
	}
	t.Fatalf("no response to %s…", prefix)
	return "", nil
}

// check fails the test if the page scrolls sideways, and saves a screenshot.
func (ct *consoleTab) check(t *testing.T, name string) {
	t.Helper()
	noSideScroll(t, ct.ctx, ct.width, name)
	screenshot(t, ct.ctx, name+"-"+strconv.Itoa(ct.width))
}

// clear empties an input, as selecting its text and deleting it would.
func clear(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(e => { e.value = ""; e.dispatchEvent(new Event("input")) })(document.getElementById(` + jsString(id) + `))`)
}

// demoCard is a demo card of product (the last one listed).
func (a *liveApp) demoCard(t *testing.T, product string) card.Card {
	t.Helper()
	cards, _, err := a.db.Cards(context.Background(), storage.CardFilter{Town: "koper", Product: product}, storage.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) == 0 {
		t.Fatalf("no demo card of %s", product)
	}
	return cards[len(cards)-1]
}

// The console's two languages of the town, each on a phone and on a desk.
var consoleRuns = []struct {
	lang  string
	width int
}{{"sl", 360}, {"it", 1280}, {"it", 360}, {"sl", 1280}}

func TestBrowserConsole(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	bg := context.Background()

	t.Run("desk: find by number with spaces, block, unblock, void", func(t *testing.T) {
		for i, run := range consoleRuns[:2] {
			t.Run(run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
				ct := openConsole(t, a, tabs, run.lang, run.width, "#desk")
				ctx := ct.ctx
				cd := a.demoCard(t, "koper-resident") // active, with redemptions
				if i == 1 {
					cd = a.demoCard(t, "koper-72h")
				}
				// Typed as printed, with spaces, and with a stray space at the end.
				do(t, ctx, chromedp.SendKeys(chromedp.ID("find-number"), card.FormatNumber(cd.Number)+" \r"),
					waitJS(`!document.getElementById("card-panel").hidden`))
				if got, want := jsText(t, ctx, "#cd-number"), card.FormatNumber(cd.Number); got != want {
					t.Fatalf("desk shows card %q, want %q", got, want)
				}
				reds, _, err := a.db.Redemptions(bg, storage.RedemptionFilter{Town: "koper", CardID: cd.ID}, storage.Page{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				if got := eval[int](t, ctx, `document.querySelectorAll("#cd-redemptions tr:not(:has(td[colspan]))").length`); got != len(reds) {
					t.Errorf("desk lists %d redemptions, the card has %d", got, len(reds))
				}
				status := map[string]string{"sl": "Veljavna", "it": "Valida"}
				if cd.Status(time.Now()) == card.StatusExpired {
					status = map[string]string{"sl": "Potekla", "it": "Scaduta"}
				}
				if got := jsText(t, ctx, "#cd-status"); got != status[run.lang] {
					t.Errorf("status shown as %q, want %q", got, status[run.lang])
				}
				ct.check(t, "console-desk-"+run.lang)

				// A block needs a reason; then the card is blocked, then unblocked.
				do(t, ctx, chromedp.Click(chromedp.ID("block-submit")), waitJS(`document.getElementById("card-error").textContent !== ""`))
				if got, _ := a.db.Card(bg, "koper", cd.ID); got.BlockedAt != nil {
					t.Fatal("blocked without a reason")
				}
				do(t, ctx, chromedp.SendKeys(chromedp.ID("block-reason"), "lost, reported by phone"), chromedp.Click(chromedp.ID("block-submit")),
					waitJS(`document.getElementById("cd-status").classList.contains("blocked") && document.getElementById("card-ok").textContent !== ""`))
				if got, _ := a.db.Card(bg, "koper", cd.ID); got.BlockedAt == nil || got.BlockReason != "lost, reported by phone" {
					t.Fatalf("card after block: blocked %v, reason %q", got.BlockedAt, got.BlockReason)
				}
				if !strings.Contains(jsText(t, ctx, "#cd-facts"), "lost, reported by phone") {
					t.Error("the block's reason is not shown")
				}
				ct.check(t, "console-desk-blocked-"+run.lang)
				do(t, ctx, chromedp.Click(chromedp.ID("block-submit")),
					waitJS(`!document.getElementById("cd-status").classList.contains("blocked")`))
				if got, _ := a.db.Card(bg, "koper", cd.ID); got.BlockedAt != nil {
					t.Fatal("card still blocked after unblock")
				}

				// Void a redemption from the desk, with a reason.
				var target string
				for _, r := range reds {
					if r.VoidedAt == nil {
						target = r.ID
						break
					}
				}
				if target == "" {
					t.Fatal("the demo card has no live redemption to void")
				}
				do(t, ctx, chromedp.Click(chromedp.CSS(`#cd-redemptions button.void`)), waitJS(`!document.getElementById("void-form").hidden`))
				ct.check(t, "console-desk-void-"+run.lang)
				do(t, ctx, chromedp.SendKeys(chromedp.ID("void-reason"), "typed the wrong card"), chromedp.Click(chromedp.ID("void-submit")),
					waitJS(`document.getElementById("void-form").hidden && document.querySelectorAll("#cd-redemptions tr.voided").length > 0`))
				voided := 0
				for _, r := range a.redemptionsOfCard(t, cd.ID) {
					if r.VoidedAt != nil && r.VoidReason == "typed the wrong card" {
						voided++
					}
				}
				if voided != 1 {
					t.Errorf("%d redemptions voided with the reason, want 1", voided)
				}
				if !strings.Contains(jsText(t, ctx, "#cd-redemptions"), "typed the wrong card") {
					t.Error("the void's reason is not shown in the card's history")
				}

				// A number that is no card says so.
				do(t, ctx, chromedp.SetValue(chromedp.ID("find-number"), "0000 0000 0000"), chromedp.Click(chromedp.ID("find-submit")),
					waitJS(`document.getElementById("find-error").textContent.includes("0000 0000 0000")`))
			})
		}
	})

	t.Run("batch: issue with a name, find it, reprint the sheet PDF", func(t *testing.T) {
		for _, run := range consoleRuns[2:] {
			t.Run(run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
				ct := openConsole(t, a, tabs, run.lang, run.width, "#cards")
				ctx := ct.ctx
				name := "Hotel Histria, " + run.lang + " " + strconv.Itoa(run.width)
				do(t, ctx, chromedp.SetValue(chromedp.ID("issue-product"), "koper-72h"), clear("issue-count"),
					chromedp.SendKeys(chromedp.ID("issue-count"), "7"), waitJS(`!document.getElementById("batch-name-field").hidden`),
					chromedp.SendKeys(chromedp.ID("issue-name"), name), chromedp.Click(chromedp.ID("issue-submit")),
					waitJS(`!document.getElementById("issued-panel").hidden`))
				if got := jsText(t, ctx, "#issued-title"); !strings.Contains(got, name) || !strings.Contains(got, "7") {
					t.Errorf("issued title %q lacks the batch's name and count", got)
				}
				ct.check(t, "console-issued-"+run.lang)
				do(t, ctx, chromedp.Click(chromedp.ID("print-issued")))
				file, pdf := ct.nextDownload(t)
				if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !strings.HasSuffix(file, ".pdf") {
					t.Errorf("printing the issued batch downloaded %s, not a PDF: %.20q", file, pdf)
				}

				// Two cards ticked in the recent list print as one sheet.
				do(t, ctx, waitJS(`document.querySelectorAll("#cards input[type=checkbox]").length >= 2`),
					chromedp.Click(chromedp.CSS(`#cards tr:nth-child(1) input[type=checkbox]`)),
					chromedp.Click(chromedp.CSS(`#cards tr:nth-child(2) input[type=checkbox]`)),
					waitJS(`!document.getElementById("print-selected").disabled`), chromedp.Click(chromedp.ID("print-selected")))
				if typ, pdf := ct.fetched(t, "/api/v1/cards/sheet.pdf?lang="+run.lang+"&ids="); typ != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
					t.Errorf("the selected cards' sheet came as %q: %.20q", typ, pdf)
				}

				// At the desk: search the batch by part of its name, open it, reprint it.
				do(t, ctx, chromedp.Navigate(a.URL+"/admin#desk"), waitJS(`!document.getElementById("tab-desk").hidden`),
					chromedp.SendKeys(chromedp.ID("batch-q"), "histria, "+run.lang+" "+strconv.Itoa(run.width)+"\r"),
					waitJS(`document.querySelectorAll("#batches tr").length === 1 && document.querySelector("#batches button.link") !== null`))
				if got := jsText(t, ctx, "#batches tr"); !strings.Contains(got, name) || !strings.Contains(got, "7") {
					t.Errorf("batch row %q lacks the name and count", got)
				}
				// Clicked from the page's own script: the list may be drawn again by the search's
				// last answer (slower on PostgreSQL) between finding the button and clicking it.
				do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("#batches button.link").click()`),
					waitJS(`document.querySelectorAll("#batch-cards tr").length === 7`))
				ct.check(t, "console-batch-"+run.lang)
				do(t, ctx, chromedp.Click(chromedp.ID("batch-reprint")))
				if typ, pdf := ct.fetched(t, "/api/v1/batches/b"); typ != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
					t.Errorf("the batch's sheet came as %q: %.20q", typ, pdf)
				}
				// A card of the batch opens at the desk.
				do(t, ctx, chromedp.Click(chromedp.CSS(`#batch-cards button.link`)), waitJS(`!document.getElementById("card-panel").hidden`))
				if got := jsText(t, ctx, "#cd-facts"); !strings.Contains(got, name) {
					t.Errorf("the batch's card does not name its batch: %q", got)
				}
			})
		}
	})

	t.Run("finance: last full month, CSV, close with confirmation", func(t *testing.T) {
		now := time.Now().In(a.srv.cfg.Loc)
		month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, a.srv.cfg.Loc).AddDate(0, -1, 0).Format("2006-01")
		for i, run := range []struct {
			lang  string
			width int
		}{{"sl", 1280}, {"it", 360}} {
			t.Run(run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
				ct := openConsole(t, a, tabs, run.lang, run.width, "#report")
				ctx := ct.ctx
				do(t, ctx, waitJS(`!document.getElementById("report").hidden && document.querySelectorAll("#statements tr").length > 0`))
				if got := eval[string](t, ctx, `document.getElementById("report-month").value`); got != month {
					t.Fatalf("finance opens on %s, want the last full month %s", got, month)
				}
				// Money in the language's format: "1.234,56 €" in Slovene and Italian.
				if got := eval[string](t, ctx, `document.querySelectorAll("#tiles .value")[2].textContent`); !strings.HasSuffix(got, "€") || !strings.Contains(got, ",") {
					t.Errorf("purchases tile %q is not in the %s format", got, run.lang)
				}
				do(t, ctx, chromedp.Click(chromedp.ID("report-csv")))
				file, plain := ct.nextDownload(t)
				if !strings.HasSuffix(file, ".csv") || bytes.HasPrefix(plain, []byte("\xef\xbb\xbf")) || !bytes.Contains(plain, []byte(",")) {
					t.Errorf("plain CSV %s: %.80q", file, plain)
				}
				do(t, ctx, chromedp.SetValue(chromedp.ID("csv-table"), "categories"), chromedp.Click(chromedp.ID("report-excel")))
				typ, excel := ct.fetched(t, "/api/v1/reports/monthly?month="+month+"&format=csv&table=categories&bom=true")
				if !strings.HasPrefix(typ, "text/csv") || !bytes.HasPrefix(excel, []byte("\xef\xbb\xbf")) || !bytes.Contains(excel, []byte(";")) {
					t.Errorf("CSV for Excel (%s) has no byte-order mark or no semicolons: %.80q", typ, excel)
				}
				// Slovene and Italian write decimals with a comma; the plain CSV with a point.
				if !regexp.MustCompile(`;"?\d+,\d\d"?(;|\r\n)`).Match(excel) {
					t.Errorf("CSV for Excel in %s has no decimal comma: %.200q", run.lang, excel)
				}
				if !regexp.MustCompile(`,\d+\.\d\d(,|\r\n)`).Match(plain) {
					t.Errorf("plain CSV has no decimal point: %.200q", plain)
				}
				do(t, ctx, chromedp.Click(chromedp.ID("report-pdf")))
				if typ, pdf := ct.fetched(t, "/api/v1/reports/monthly?month="+month+"&format=pdf"); typ != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
					t.Errorf("report PDF (%s): %.20q", typ, pdf)
				}
				do(t, ctx, chromedp.Click(chromedp.CSS(`#statements button.st-pdf`)))
				if typ, pdf := ct.fetched(t, "/api/v1/reports/statements?month="+month+"&merchant="); typ != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
					t.Errorf("statement PDF (%s): %.20q", typ, pdf)
				}
				do(t, ctx, chromedp.Click(chromedp.ID("st-include-zero")), chromedp.Click(chromedp.ID("st-all")))
				if typ, pdf := ct.fetched(t, "/api/v1/reports/statements?month="+month+"&format=pdf&lang="+run.lang+"&all=true"); typ != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
					t.Errorf("all statements PDF (%s): %.20q", typ, pdf)
				}
				ct.check(t, "console-finance-"+run.lang)

				target := month
				if i == 1 {
					// The first run closed the last full month: here it shows as closed, with its
					// checksum and no button to close it again. This run closes the month before.
					cl, _, err := a.db.ClosedMonth(bg, "koper", mustMonth(t, month))
					if err != nil {
						t.Fatal(err)
					}
					do(t, ctx, waitJS(`document.getElementById("report-state").textContent.includes(`+jsString(hex.EncodeToString(cl.SHA256[:]))+`)`))
					if !eval[bool](t, ctx, `document.getElementById("close-open").hidden`) {
						t.Error("a closed month still offers to close it")
					}
					start, _ := mustMonth(t, month).Range(a.srv.cfg.Loc)
					target = start.AddDate(0, -1, 0).Format("2006-01")
					do(t, ctx, chromedp.SetValue(chromedp.ID("report-month"), target), chromedp.Click(chromedp.CSS(`#report-form button[type=submit]`)),
						waitJS(`!document.getElementById("close-open").hidden && document.getElementById("report-state").textContent !== ""`))
				}
				// Close: a dialog that says what it means; the month must be typed.
				do(t, ctx, chromedp.Click(chromedp.ID("close-open")), waitJS(`document.getElementById("close-dialog").open`))
				screenshotScreen(t, ctx, "console-close-dialog-"+run.lang+"-"+strconv.Itoa(run.width))
				noSideScroll(t, ctx, run.width, "close dialog")
				if !eval[bool](t, ctx, `document.getElementById("close-confirm").disabled`) {
					t.Fatal("the close button works before the month is typed")
				}
				do(t, ctx, chromedp.SendKeys(chromedp.ID("close-confirm-month"), "2020-01"))
				if !eval[bool](t, ctx, `document.getElementById("close-confirm").disabled`) {
					t.Fatal("the close button works with another month typed")
				}
				if _, closed, _ := a.db.ClosedMonth(bg, "koper", mustMonth(t, target)); closed {
					t.Fatal("month closed before confirming")
				}
				do(t, ctx, clear("close-confirm-month"), chromedp.SendKeys(chromedp.ID("close-confirm-month"), target),
					chromedp.Click(chromedp.ID("close-confirm")), waitJS(`!document.getElementById("close-result").hidden`))
				cl, closed, err := a.db.ClosedMonth(bg, "koper", mustMonth(t, target))
				if err != nil || !closed {
					t.Fatalf("month %s not closed (%v)", target, err)
				}
				sum := hex.EncodeToString(cl.SHA256[:])
				do(t, ctx, waitJS(`document.getElementById("report-state").textContent.includes(`+jsString(sum)+`)`))
				shown := jsText(t, ctx, "#close-facts")
				if !strings.Contains(shown, sum) {
					t.Errorf("close result does not show the checksum %s", sum)
				}
				// The checkpoint signed with the close, as the ledger keeps it.
				cps, _, err := a.db.Checkpoints(bg, "koper", storage.Page{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, cp := range cps {
					sig := base64.RawURLEncoding.EncodeToString(cp.Signature)
					if strings.Contains(shown, sig) && strings.Contains(shown, cp.KID) && strings.Contains(shown, hex.EncodeToString(cp.Head[:])) {
						found = true
					}
				}
				if !found {
					t.Errorf("close result shows no signed checkpoint of the ledger (%d checkpoints): %q", len(cps), shown)
				}
				if !eval[bool](t, ctx, `document.getElementById("close-open").hidden`) {
					t.Error("a closed month still offers to close it")
				}
				ct.check(t, "console-finance-closed-"+run.lang)
			})
		}
	})

	t.Run("language: browser default, switch, remembered", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(1280, 900), chromedp.Navigate(a.URL+"/admin"), waitJS(`!document.getElementById("signin").hidden`),
			chromedp.Evaluate[chromedp.Void](`localStorage.clear(); sessionStorage.clear()`), chromedp.Navigate(a.URL+"/admin"),
			waitJS(`!document.getElementById("signin").hidden`))
		if got := eval[string](t, ctx, `document.documentElement.lang`); got != "en" {
			t.Errorf("with an English browser the console opens in %q", got)
		}
		if got := eval[[]string](t, ctx, `[...document.querySelectorAll("#lang option")].map(o => o.value)`); fmt.Sprint(got) != "[sl it en de]" {
			t.Errorf("languages offered in order %v, want Slovene and Italian first", got)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), a.adminToken+"\r"), waitJS(`!document.getElementById("tabs").hidden`),
			chromedp.Navigate(a.URL+"/admin#report"), waitJS(`!document.getElementById("report").hidden`),
			chromedp.SetValue(chromedp.ID("lang"), "it"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("lang").dispatchEvent(new Event("change"))`),
			waitJS(`document.querySelector('#tabs a[data-tab="desk"]').textContent === "Sportello"`))
		if got := jsText(t, ctx, `label[for="report-month"]`); got != "Mese" {
			t.Errorf("after switching to Italian the month is labelled %q", got)
		}
		do(t, ctx, waitJS(`document.querySelector("#tiles .label").textContent === "Utilizzi"`))
		do(t, ctx, chromedp.Reload(), waitJS(`!document.getElementById("tabs").hidden`))
		if got := jsText(t, ctx, `#tabs a[data-tab="report"]`); got != "Finanze" {
			t.Errorf("after a reload the tab reads %q: the choice was not remembered", got)
		}
		do(t, ctx, chromedp.SetValue(chromedp.ID("lang"), "de"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("lang").dispatchEvent(new Event("change"))`))
		if got := jsText(t, ctx, `#tabs a[data-tab="cards"]`); got != "Karten" {
			t.Errorf("German cards tab reads %q", got)
		}
	})

	t.Run("language: an Italian browser opens the console in Italian", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(360, 760), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
				UserAgent: "Mozilla/5.0 (Linux; Android 14) Chrome/130 Mobile", AcceptLanguage: "it-IT,it;q=0.9,en;q=0.5"})
			return err
		}), chromedp.Navigate(a.URL+"/admin"), chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Reload(),
			waitJS(`!document.getElementById("signin").hidden`))
		if got := eval[string](t, ctx, `document.documentElement.lang`); got != "it" {
			t.Errorf("with an Italian browser the console opens in %q", got)
		}
		if got := jsText(t, ctx, `#signin h1`); got != "Accesso alla console dell'ufficio" {
			t.Errorf("sign-in title %q", got)
		}
		noSideScroll(t, ctx, 360, "console-signin-it")
		screenshot(t, ctx, "console-signin-it-360")
	})

	t.Run("merchant: tax number and IBAN, the server's message on a bad one", func(t *testing.T) {
		ct := openConsole(t, a, tabs, "sl", 360, "#merchants")
		ctx := ct.ctx
		do(t, ctx, waitJS(`document.querySelectorAll("#merchants tr").length >= 12`),
			chromedp.Click(chromedp.CSS(`#merchants tr:nth-child(2) button.edit`)), waitJS(`!document.getElementById("merchant-panel").hidden`),
			clear("m-iban"), chromedp.SendKeys(chromedp.ID("m-iban"), "SI56 1910 0000 0123 439"))
		if !eval[bool](t, ctx, `document.getElementById("m-iban-hint").classList.contains("warn")`) {
			t.Error("no hint for an IBAN whose check digits fail")
		}
		do(t, ctx, chromedp.Click(chromedp.ID("merchant-save")), waitJS(`document.getElementById("merchant-error").textContent !== ""`))
		ct.check(t, "console-merchant-bad-iban")
		do(t, ctx, clear("m-iban"), chromedp.SendKeys(chromedp.ID("m-iban"), "SI56 1910 0000 0123 438"),
			clear("m-tax"), chromedp.SendKeys(chromedp.ID("m-tax"), "SI15012557"))
		if eval[bool](t, ctx, `document.getElementById("m-iban-hint").classList.contains("warn")`) {
			t.Error("a valid IBAN is hinted as wrong")
		}
		do(t, ctx, chromedp.Click(chromedp.ID("merchant-save")), waitJS(`document.getElementById("merchant-ok").textContent !== ""`))
		id := eval[string](t, ctx, `document.querySelector("#merchants tr.selected").dataset.id`)
		status := a.apiJSON(t, "GET", "/api/v1/merchants/"+id, a.adminToken, "koper", nil, nil)
		if status != 200 {
			t.Fatalf("merchant %s: %d", id, status)
		}
		if got := eval[string](t, ctx, `document.getElementById("m-iban").value`); strings.ReplaceAll(got, " ", "") != "SI56191000000123438" {
			t.Errorf("IBAN after saving reads %q", got)
		}
	})
}

// redemptionsOfCard lists a card's redemptions.
func (a *liveApp) redemptionsOfCard(t *testing.T, cardID string) []merchant.Redemption {
	t.Helper()
	rs, _, err := a.db.Redemptions(context.Background(), storage.RedemptionFilter{Town: "koper", CardID: cardID}, storage.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

package main

// Browser tests of the console's network view: the network admin switches town, creates a
// town and its office token; that office signs in and sees its town only; the network's month
// shows the clearing matrix, whose totals add up. In Slovene and Italian, at 360 and 1280 px.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/server/tools"
)

// signInConsole opens the console in a new tab, in lang at width px, signed in with token.
func signInConsole(t *testing.T, a *liveApp, tabs context.Context, lang string, width int, hash, token string) context.Context {
	t.Helper()
	ctx := newTab(t, tabs)
	height := int64(900)
	if width < 700 {
		height = 760
	}
	do(t, ctx, viewport(int64(width), height), chromedp.Navigate(a.URL+"/admin"+hash), waitJS(`!!document.getElementById("lang")`),
		chromedp.Evaluate[chromedp.Void](`localStorage.clear(); sessionStorage.clear(); localStorage.setItem("citycard.admin.lang", `+jsString(lang)+`)`),
		chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`), chromedp.SendKeys(chromedp.ID("token"), token+"\r"),
		waitJS(`!document.getElementById("tabs").hidden`))
	return ctx
}

// apiJSON calls the API with a bearer secret (and a town, if not empty) and decodes the answer.
func (a *liveApp) apiJSON(t *testing.T, method, path, secret, town string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if town != "" {
		req.Header.Set(HeaderTown, town)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// names are the texts of the first cells of a table body's rows.
func names(t *testing.T, ctx context.Context, tbody string) []string {
	t.Helper()
	return eval[[]string](t, ctx, `[...document.querySelectorAll(`+jsString(tbody+" tr td.main")+`)].map(td => td.textContent.trim())`)
}

func TestBrowserTowns(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	var ptuj, koper tools.DemoTown
	for _, tr := range a.demo.Towns {
		switch tr.Code {
		case "ptuj":
			ptuj = tr
		case "koper":
			koper = tr
		}
	}
	if ptuj.OfficeToken == "" || koper.OfficeToken == "" {
		t.Fatalf("the demo has no office tokens of Koper and Ptuj: %+v", a.demo.Towns)
	}

	for _, run := range []struct {
		lang  string
		width int
		town  string // the town the test creates
	}{{"sl", 1280, "kranj"}, {"it", 360, "izola"}} {
		t.Run("network admin "+run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
			ctx := signInConsole(t, a, tabs, run.lang, run.width, "#merchants", a.adminToken)
			// The demo's two towns (and the first run's new one): the switcher offers them, the
			// network's tabs are there.
			if got := eval[[]string](t, ctx, `[...document.querySelectorAll("#town option")].map(o => o.value)`); !contains(got, "koper") || !contains(got, "ptuj") || got[0] != "koper" {
				t.Fatalf("switcher offers %v, want koper first and ptuj", got)
			}
			if eval[bool](t, ctx, `document.getElementById("town").hidden || [...document.querySelectorAll("#tabs a.net")].some(a => a.hidden)`) {
				t.Fatal("the network admin has no switcher or no network tabs")
			}
			do(t, ctx, waitJS(`document.querySelectorAll("#merchants tr").length > 0`))
			if got := names(t, ctx, "#merchants"); !contains(got, "Gostilna Pod Taverno") || contains(got, "Mestni stolp Ptuj") {
				t.Fatalf("Koper's merchants: %v", got)
			}
			noSideScroll(t, ctx, run.width, "merchants of Koper")

			// Switch to Ptuj: its merchants, its products, and it is remembered.
			do(t, ctx, chromedp.SetValue(chromedp.ID("town"), "ptuj"),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("town").dispatchEvent(new Event("change"))`),
				waitJS(`[...document.querySelectorAll("#merchants td.main")].some(td => td.textContent.includes("Mestni stolp Ptuj"))`))
			if got := names(t, ctx, "#merchants"); contains(got, "Gostilna Pod Taverno") {
				t.Fatalf("Ptuj's merchants include Koper's: %v", got)
			}
			if got := eval[[]string](t, ctx, `[...document.querySelectorAll("#issue-product option")].map(o => o.value)`); !contains(got, "ptuj-72h") || contains(got, "koper-72h") {
				t.Errorf("Ptuj's products: %v", got)
			}
			screenshot(t, ctx, "towns-switch-"+run.lang+"-"+strconv.Itoa(run.width))
			do(t, ctx, chromedp.Reload(), waitJS(`!document.getElementById("tabs").hidden && document.getElementById("town").value === "ptuj"`))

			// Towns: create one, then its office token.
			do(t, ctx, chromedp.Navigate(a.URL+"/admin#towns"), waitJS(`document.querySelectorAll("#towns tr").length >= 2`),
				chromedp.Click(chromedp.ID("town-new")), waitJS(`!document.getElementById("town-panel").hidden`))
			// A code the server refuses: its message is shown, nothing is created.
			do(t, ctx, chromedp.SendKeys(chromedp.ID("t-code"), "X"), chromedp.SendKeys(chromedp.ID("t-sl"), "Napaka"),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("t-code").removeAttribute("pattern")`),
				chromedp.Click(chromedp.ID("town-save")), waitJS(`document.getElementById("town-error").textContent !== ""`))
			Name := strings.ToUpper(run.town[:1]) + run.town[1:]
			do(t, ctx, clear("t-code"), chromedp.SendKeys(chromedp.ID("t-code"), run.town), clear("t-sl"), chromedp.SendKeys(chromedp.ID("t-sl"), Name),
				chromedp.SendKeys(chromedp.ID("t-en"), Name),
				chromedp.Click(chromedp.CSS(`#t-also input[value="en"]`)),
				chromedp.Click(chromedp.ID("town-save")),
				waitJS(`!!document.querySelector('#towns tr[data-code=`+jsString(run.town)+`]') && !document.getElementById("tokens-panel").hidden`))
			var tw townJSON
			if code := a.apiJSON(t, "GET", "/api/v1/towns/"+run.town, a.adminToken, "", nil, &tw); code != 200 {
				t.Fatalf("the town made in the console: %d", code)
			}
			if strings.Join(tw.Languages, ",") != "sl,en" || tw.Name["sl"] != Name || tw.Timezone != "Europe/Ljubljana" {
				t.Errorf("town stored as %+v", tw)
			}
			if !eval[bool](t, ctx, `[...document.querySelectorAll("#town option")].some(o => o.value === `+jsString(run.town)+`)`) {
				t.Error("the new town is not in the switcher")
			}
			// Edit it: a public address and Italian as a language too.
			do(t, ctx, chromedp.Click(chromedp.CSS(`#towns tr[data-code=`+jsString(run.town)+`] button.edit`)),
				waitJS(`document.getElementById("t-code").disabled && document.getElementById("t-code").value === `+jsString(run.town)),
				clear("t-url"), chromedp.SendKeys(chromedp.ID("t-url"), "https://"+run.town+".example/"),
				chromedp.Click(chromedp.CSS(`#t-also input[value="it"]`)), chromedp.Click(chromedp.ID("town-save")),
				waitJS(`document.getElementById("town-ok").textContent !== ""`))
			a.apiJSON(t, "GET", "/api/v1/towns/"+run.town, a.adminToken, "", nil, &tw)
			if tw.PublicURL != "https://"+run.town+".example" || strings.Join(tw.Languages, ",") != "sl,it,en" {
				t.Errorf("town after editing: %+v", tw)
			}
			do(t, ctx, chromedp.Click(chromedp.CSS(`#towns tr[data-code=`+jsString(run.town)+`] button.tokens`)),
				waitJS(`!document.getElementById("tokens-panel").hidden`))
			do(t, ctx, chromedp.SendKeys(chromedp.ID("token-label"), "TIC "+Name), chromedp.Click(chromedp.ID("token-create")),
				waitJS(`document.getElementById("token-value").textContent.startsWith("cco_")`))
			token := jsText(t, ctx, "#token-value")
			// The list is asked for again after the token is shown: wait for that answer.
			do(t, ctx, waitJS(`[...document.querySelectorAll("#tokens td.main")].some(td => td.textContent === `+jsString("TIC "+Name)+`)`))
			if got := names(t, ctx, "#tokens"); !contains(got, "TIC "+Name) {
				t.Errorf("tokens listed: %v", got)
			}
			if got := jsText(t, ctx, "#tokens tr td:nth-child(3)"); got == "" {
				t.Error("a new token's last use is blank")
			}
			screenshot(t, ctx, "towns-token-"+run.lang+"-"+strconv.Itoa(run.width))
			noSideScroll(t, ctx, run.width, "towns")

			// The office signs in with it: its town only.
			octx := signInConsole(t, a, tabs, run.lang, run.width, "#merchants", token)
			if !eval[bool](t, octx, `document.getElementById("town").hidden && [...document.querySelectorAll("#tabs a.net")].every(a => a.hidden)`) {
				t.Fatal("an office sees the switcher or the network's tabs")
			}
			// The bar names the town, on a phone too.
			if got := jsText(t, octx, "#who"); got != Name || !eval[bool](t, octx, `document.getElementById("who").getBoundingClientRect().width > 0`) {
				t.Errorf("the bar names %q (shown: %v), want %q", got, eval[bool](t, octx, `document.getElementById("who").getBoundingClientRect().width > 0`), Name)
			}
			do(t, octx, chromedp.Navigate(a.URL+"/admin#towns"), waitJS(`!document.getElementById("tab-desk").hidden`))
			do(t, octx, chromedp.Navigate(a.URL+"/admin#merchants"), waitJS(`!document.getElementById("tab-merchants").hidden`))
			time.Sleep(300 * time.Millisecond) // the list loads
			if got := names(t, octx, "#merchants"); len(got) != 0 {
				t.Errorf("a new town's office sees merchants %v", got)
			}
			screenshot(t, octx, "towns-office-"+run.lang+"-"+strconv.Itoa(run.width))
			noSideScroll(t, octx, run.width, "office")
			// Another town's header is refused for it, and revoking signs it out.
			if code := a.apiJSON(t, "GET", "/api/v1/merchants", token, "koper", nil, nil); code != 403 {
				t.Errorf("office token with Koper's header: %d, want 403", code)
			}
			do(t, ctx, chromedp.Click(chromedp.CSS("#tokens button.revoke")), chromedp.Click(chromedp.CSS("#tokens button.revoke")),
				waitJS(`document.getElementById("tokens-ok").textContent !== ""`))
			if code := a.apiJSON(t, "GET", "/api/v1/merchants", token, "", nil, nil); code != 401 {
				t.Errorf("revoked office token: %d, want 401", code)
			}
		})
	}

	// The demo's Ptuj office sees Ptuj's merchants and nothing of Koper's.
	t.Run("office of Ptuj", func(t *testing.T) {
		ctx := signInConsole(t, a, tabs, "sl", 1280, "#merchants", ptuj.OfficeToken)
		do(t, ctx, waitJS(`[...document.querySelectorAll("#merchants td.main")].some(td => td.textContent.includes("Mestni stolp Ptuj"))`))
		if got := names(t, ctx, "#merchants"); contains(got, "Gostilna Pod Taverno") {
			t.Fatalf("Ptuj's office sees Koper's merchants: %v", got)
		}
		if got := jsText(t, ctx, "#who"); got != "Ptuj" {
			t.Errorf("bar names %q", got)
		}
	})

	// The network's month: the clearing matrix of the month with cross-town redemptions.
	month := ""
	var net struct {
		Clearing []map[string]any `json:"clearing"`
		Totals   struct {
			Redemptions int `json:"redemptions"`
		} `json:"totals"`
	}
	for _, m := range []string{time.Now().In(a.db.Loc).Format("2006-01"), time.Now().In(a.db.Loc).AddDate(0, 0, -15).Format("2006-01")} {
		if code := a.apiJSON(t, "GET", "/api/v1/reports/network?month="+m, a.adminToken, "", nil, &net); code != 200 {
			t.Fatalf("network report %s: %d", m, code)
		}
		for _, c := range net.Clearing {
			if c["issuer"] != c["acceptor"] {
				month = m
			}
		}
		if month != "" {
			break
		}
	}
	if month == "" {
		t.Fatal("no month of the demo has redemptions across towns")
	}
	for _, run := range []struct {
		lang  string
		width int
	}{{"sl", 1280}, {"it", 360}} {
		t.Run("network report "+run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
			ct := openConsole(t, a, tabs, run.lang, run.width, "#desk") // the network admin, downloads kept
			ctx := ct.ctx
			// The tab's first question (a month without redemptions) is answered only after the
			// month asked next was shown: the page must drop that late answer, not draw it over
			// the month asked for, nor mix the two (observed: one month's matrix beside another's
			// totals).
			release := ct.holdFirst(t, "*/api/v1/reports/network*")
			do(t, ctx, chromedp.SetValue(chromedp.ID("net-month"), "2020-01"),
				chromedp.Evaluate[chromedp.Void](`location.hash = "#network"`),
				waitJS(`!document.getElementById("tab-network").hidden`),
				chromedp.SetValue(chromedp.ID("net-month"), month), chromedp.Click(chromedp.CSS(`#net-form button[type=submit]`)),
				waitJS(`document.getElementById("net-report").dataset.month === `+jsString(month)+` && !document.getElementById("net-report").hidden`))
			release()
			// The late answer is in once the page dropped it (or, wrongly, drew it).
			do(t, ctx, waitJS(`Number(document.body.dataset.dropped || 0) >= 1 || document.getElementById("net-report").dataset.month !== `+jsString(month)))
			if got := eval[string](t, ctx, `document.getElementById("net-report").dataset.month`); got != month {
				t.Fatalf("after the late answer the page shows %s, want %s", got, month)
			}
			if n := eval[int](t, ctx, `document.querySelectorAll("#net-matrix tbody tr").length`); n < 2 {
				t.Fatalf("matrix of %s has %d rows", month, n)
			}
			if got, want := jsText(t, ctx, "#net-tiles .tile .value"), strconv.Itoa(net.Totals.Redemptions); got != want {
				t.Fatalf("redemptions tile %q, the network report of %s has %s", got, month, want)
			}
			// Rows and columns: every town of the report.
			rows := eval[[]string](t, ctx, `[...document.querySelectorAll("#net-matrix tbody th")].map(th => th.textContent)`)
			if !contains(rows, "Ptuj") || len(rows) < 2 {
				t.Fatalf("matrix rows %v", rows)
			}
			// The grand total (added from the cells) equals the network's total, and each
			// column's total the town's own figure, for every figure.
			for _, fig := range []struct{ value, tile string }{{"municipal_share", "4"}, {"discount", "3"}, {"amount", "2"}, {"redemptions", "0"}} {
				do(t, ctx, chromedp.SetValue(chromedp.ID("net-figure"), fig.value),
					chromedp.Evaluate[chromedp.Void](`document.getElementById("net-figure").dispatchEvent(new Event("change"))`))
				grand := jsText(t, ctx, "#net-matrix td.grand")
				tile := eval[string](t, ctx, `document.querySelectorAll("#net-tiles .tile .value")[`+fig.tile+`].textContent`)
				if grand != tile || grand == "" {
					t.Errorf("%s: matrix total %q, network total %q", fig.value, grand, tile)
				}
			}
			// The towns' table and the matrix's column totals agree (municipal share: column 6).
			do(t, ctx, chromedp.SetValue(chromedp.ID("net-figure"), "municipal_share"),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("net-figure").dispatchEvent(new Event("change"))`))
			cols := eval[[]string](t, ctx, `[...document.querySelectorAll("#net-matrix tfoot td")].slice(0, -1).map(td => td.textContent)`)
			towns := eval[[]string](t, ctx, `[...document.querySelectorAll("#net-towns tr td:nth-child(6)")].map(td => td.textContent)`)
			if strings.Join(cols, "|") != strings.Join(towns, "|") {
				t.Errorf("column totals %v, towns' municipal shares %v", cols, towns)
			}
			noSideScroll(t, ctx, run.width, "network report")
			screenshot(t, ctx, "towns-network-"+run.lang+"-"+strconv.Itoa(run.width))

			// The downloads: the network report as CSV and as PDF, under the server's names.
			do(t, ctx, chromedp.Click(chromedp.ID("net-csv")))
			if name, b := ct.nextDownload(t); name != "citycard-network-"+month+".csv" || !bytes.Contains(b, []byte("ptuj")) {
				t.Errorf("CSV download %q: %.200s", name, b)
			}
			do(t, ctx, chromedp.Click(chromedp.ID("net-pdf")))
			if name, b := ct.nextDownload(t); name != "citycard-network-"+month+".pdf" || !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Errorf("PDF download %q: %.20q", name, b)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

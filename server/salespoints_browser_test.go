package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsoleSalesPoints: the office's screens for sales points, in Slovene at 360 px
// (the merchants tab): creates one (its secret shown once, with the counter page's address),
// an API error in the page's language, a new secret (asked twice; the old secret is 401 at
// once), edits its products and commission, switches it off (its secret 403). An answer about
// the list that comes after a newer one is dropped.
func TestBrowserConsoleSalesPoints(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	ct := openConsole(t, a, tabs, "sl", 360, "#merchants")
	ctx := ct.ctx
	do(t, ctx, chromedp.SetValue(chromedp.ID("town"), "koper"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("town").dispatchEvent(new Event("change"))`),
		waitJS(`!document.getElementById("tab-merchants").hidden && document.querySelectorAll("#salespoints tr").length === 2`))
	if got := jsText(t, ctx, "#salespoints-panel h1"); got != "Prodajna mesta" {
		t.Errorf("the list's title %q", got)
	}
	if got := jsText(t, ctx, "#salespoints tr:first-child td:nth-child(4)"); got != "aktivno" {
		t.Errorf("the first sales point's status %q", got)
	}

	me := func(secret string) int {
		t.Helper()
		return a.apiJSON(t, "GET", "/api/v1/sales/me", secret, "", nil, nil)
	}

	// A new one: first a commission the API refuses, its message in Slovene.
	do(t, ctx, chromedp.Click(chromedp.ID("sp-new")), waitJS(`!document.getElementById("sp-panel").hidden && document.querySelectorAll("#sp-products input").length > 1`),
		chromedp.SendKeys(chromedp.ID("sp-name"), "Hotel Bernardin"), chromedp.SendKeys(chromedp.ID("sp-commission"), "150"),
		chromedp.Click(chromedp.CSS(`#sp-products input[value="koper-24h"]`)),
		chromedp.Click(chromedp.ID("sp-save")), waitJS(`document.getElementById("sp-error").textContent !== ""`))
	want := apiMessage(t, a, "sl", `{"name":"x","products":["koper-24h"],"commission":"150"}`)
	if got := jsText(t, ctx, "#sp-error"); got != want || got == apiMessage(t, a, "en", `{"name":"x","products":["koper-24h"],"commission":"150"}`) {
		t.Errorf("the error shown %q, want the Slovene %q", got, want)
	}
	ct.check(t, "console-salespoint-error")
	do(t, ctx, clear("sp-commission"), chromedp.SendKeys(chromedp.ID("sp-commission"), "7,5"),
		chromedp.Click(chromedp.ID("sp-save")), waitJS(`!document.getElementById("sp-key-panel").hidden`),
		waitJS(`document.querySelectorAll("#salespoints tr").length === 3`))
	secret := jsText(t, ctx, "#sp-key-value")
	if !strings.HasPrefix(secret, "ccs_") {
		t.Fatalf("the secret shown: %q", secret)
	}
	if got := jsText(t, ctx, "#sp-key-panel"); !strings.Contains(got, "samo zdaj") || !strings.Contains(got, a.URL+"/sell") {
		t.Errorf("the secret's panel says %q: not that it is shown only now, or not where to use it", got)
	}
	if code := me(secret); code != 200 {
		t.Fatalf("the new secret: GET /api/v1/sales/me %d", code)
	}
	ct.check(t, "console-salespoint-created")
	// Shown once: "saved" empties it, and nothing else on the page holds it.
	do(t, ctx, chromedp.Click(chromedp.ID("sp-key-copy")), chromedp.Click(chromedp.ID("sp-key-done")),
		waitJS(`document.getElementById("sp-key-panel").hidden`))
	if eval[bool](t, ctx, `document.body.innerHTML.includes(`+jsString(secret)+`)`) {
		t.Error("the secret is still on the page")
	}

	// A new secret: the first click asks again; the second replaces it; the old one is 401.
	do(t, ctx, chromedp.Click(chromedp.ID("sp-rotate")), waitJS(`document.getElementById("sp-rotate").classList.contains("danger")`))
	if got := jsText(t, ctx, "#sp-rotate"); !strings.Contains(got, "takoj") {
		t.Errorf("the confirmation %q does not say the old secret stops at once", got)
	}
	if code := me(secret); code != 200 {
		t.Fatalf("one click replaced the secret (%d)", code)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("sp-rotate")), waitJS(`!document.getElementById("sp-key-panel").hidden`))
	fresh := jsText(t, ctx, "#sp-key-value")
	if !strings.HasPrefix(fresh, "ccs_") || fresh == secret {
		t.Fatalf("the new secret %q", fresh)
	}
	if code := me(secret); code != 401 {
		t.Errorf("the old secret after the rotation: %d, want 401", code)
	}
	if code := me(fresh); code != 200 {
		t.Errorf("the new secret: %d, want 200", code)
	}
	ct.check(t, "console-salespoint-rotated")
	do(t, ctx, chromedp.Click(chromedp.ID("sp-key-done")))

	// Edit: both cards, 10 %.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#sp-products input[value="koper-72h"]`)), clear("sp-commission"),
		chromedp.SendKeys(chromedp.ID("sp-commission"), "10"), chromedp.Click(chromedp.ID("sp-save")),
		waitJS(`document.getElementById("sp-ok").textContent !== ""`))
	var got struct {
		Products   []string `json:"products"`
		Commission string   `json:"commission"`
		Active     bool     `json:"active"`
	}
	id := a.salesPointID(t, "Hotel Bernardin")
	a.apiJSON(t, "GET", "/api/v1/sales-points/"+id, a.adminToken, "koper", nil, &got)
	if strings.Join(got.Products, ",") != "koper-24h,koper-72h" && strings.Join(got.Products, ",") != "koper-72h,koper-24h" || got.Commission != "10" || !got.Active {
		t.Errorf("after the edit: %+v", got)
	}
	do(t, ctx, waitJS(`[...document.querySelectorAll("#salespoints tr")].some(tr => tr.textContent.includes("Hotel Bernardin") && tr.textContent.includes("10 %"))`))

	// Switch it off: the secret is 403, the list says so.
	do(t, ctx, chromedp.Click(chromedp.ID("sp-active")), chromedp.Click(chromedp.ID("sp-save")),
		waitJS(`[...document.querySelectorAll("#salespoints tr")].some(tr => tr.textContent.includes("Hotel Bernardin") && tr.textContent.includes("izklopljeno"))`))
	if code := me(fresh); code != 403 {
		t.Errorf("the switched-off sales point's secret: %d, want 403", code)
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	ct.check(t, "console-salespoint-off")

	// An older answer about the list is dropped: the first load is held, a second one shows.
	dropped := eval[int](t, ctx, `Number(document.body.dataset.dropped || 0)`)
	release := ct.holdFirst(t, "*/api/v1/sales-points?limit=*")
	do(t, ctx, chromedp.Click(chromedp.ID("sp-close")), chromedp.Evaluate[chromedp.Void](`document.getElementById("salespoints").textContent = ""`),
		chromedp.Click(chromedp.ID("sp-new")), chromedp.Click(chromedp.ID("sp-close")),
		waitJS(`document.querySelectorAll("#salespoints tr").length === 3`))
	release()
	do(t, ctx, waitJS(`Number(document.body.dataset.dropped || 0) > `+strconv.Itoa(dropped)))
	if n := eval[int](t, ctx, `document.querySelectorAll("#salespoints tr").length`); n != 3 {
		t.Errorf("after the old answer came, the list has %d rows, want 3", n)
	}
}

// apiMessage is the error message the API gives in lang to the office's create of body.
func apiMessage(t *testing.T, a *liveApp, lang, body string) string {
	t.Helper()
	req, err := http.NewRequest("POST", a.URL+"/api/v1/sales-points", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.adminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Language", lang)
	req.Header.Set(HeaderTown, "koper")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 400 || e.Error.Message == "" {
		t.Fatalf("create %s in %s: %d %+v %v", body, lang, resp.StatusCode, e, err)
	}
	return e.Error.Message
}

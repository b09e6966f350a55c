package main

// The walk: every console tab, as the network admin and as an office, and every state of the
// till, in Slovene and Italian at 360 and 1280 px, first with the demo's two towns and then
// with a network of ten. On each screen it fails on English catalogue text shown on a Slovene
// or Italian page, and on anything wider than the window or cut off by its box.

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/tools"
)

// englishOf are the English texts of the areas' catalogues whose text in lang differs: shown
// on a page in lang, each is English a reader of lang was not meant to see. A text with
// placeholders becomes a pattern; texts without three letters in a row are left out.
func englishOf(lang string, areas ...string) (exact []string, patterns []string) {
	letters := regexp.MustCompile(`\pL{3}`)
	ph := regexp.MustCompile(`\{[^}]*\}`)
	seen := map[string]bool{}
	for _, area := range areas {
		c := i18n.Catalogue(area)
		for k, en := range c["en"] {
			en = strings.TrimSpace(en)
			if c[lang][k] == en || seen[en] {
				continue
			}
			seen[en] = true
			if !ph.MatchString(en) {
				if letters.MatchString(en) {
					exact = append(exact, en)
				}
				continue
			}
			parts := ph.Split(en, -1)
			lit := strings.Join(parts, "")
			if len(letters.FindAllString(lit, -1)) < 2 {
				continue
			}
			for i, p := range parts {
				parts[i] = regexp.QuoteMeta(p)
			}
			patterns = append(patterns, "^"+strings.Join(parts, ".+?")+"$")
		}
	}
	sort.Strings(exact)
	sort.Strings(patterns)
	return exact, patterns
}

// walkCheckJS looks at what a person sees: the visible text nodes, placeholders and labels in
// English (window.__english), the page scrolling sideways, an element sticking out of the
// window, a box cutting its content off, and a table that does not fit its box. It returns
// one line per problem.
const walkCheckJS = `(() => {
  const out = [], W = window.innerWidth, eng = window.__english;
  const exact = new Set(eng.exact), pats = eng.patterns.map(p => new RegExp(p, "s"));
  const name = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "");
  const visible = e => e.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }) && e.getClientRects().length > 0;
  const english = s => { s = s.replace(/\s+/g, " ").trim(); return s && (exact.has(s) || pats.some(p => p.test(s))); };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    const p = n.parentElement;
    if (!p || p.closest("script,style,template,noscript,#lang") || !n.textContent.trim()) continue;
    const sel = p.closest("select");
    if (sel ? !visible(sel) : !visible(p)) continue;
    if (english(n.textContent)) out.push("English text in " + name(p) + ": " + JSON.stringify(n.textContent.trim()));
  }
  for (const e of document.querySelectorAll("[placeholder],[aria-label],[title]")) {
    if (!visible(e)) continue;
    for (const a of ["placeholder", "aria-label", "title"]) {
      const v = e.getAttribute(a);
      if (v && english(v)) out.push("English " + a + " of " + name(e) + ": " + JSON.stringify(v));
    }
  }
  const sw = document.documentElement.scrollWidth;
  if (sw > W) out.push("the page scrolls sideways: scrollWidth " + sw + " > " + W);
  for (const e of document.body.querySelectorAll("*")) {
    if (!visible(e) || e.closest(".sr")) continue;
    const cs = getComputedStyle(e), r = e.getBoundingClientRect();
    // Sticking out of the window, outside any box that scrolls or clips.
    let box = e.parentElement;
    while (box && box !== document.body && !/auto|scroll|hidden|clip/.test(getComputedStyle(box).overflowX)) box = box.parentElement;
    if ((!box || box === document.body) && cs.position !== "fixed" && (r.right > W + 1 || r.left < -1) && r.width > 0)
      out.push(name(e) + " sticks out of the window: " + Math.round(r.left) + ".." + Math.round(r.right) + " of " + W);
    if (/^(INPUT|SELECT|TEXTAREA|BUTTON|OPTION|svg)$/i.test(e.tagName) || e.closest("svg")) continue;
    const over = e.scrollWidth - e.clientWidth;
    if (over > 1 && /hidden|clip/.test(cs.overflowX) && cs.textOverflow !== "ellipsis")
      out.push(name(e) + " cuts off " + over + " px of its content");
    if (over > 1 && /auto|scroll/.test(cs.overflowX) && e.querySelector("table")) {
      const m = e.querySelector("table.matrix");
      // A clearing matrix of many towns may scroll in its own box on a phone, its first
      // column (the issuing town) staying in view; every other table fits.
      const towns = m ? m.querySelectorAll("tbody tr").length : 0;
      if (!(m && W < 700 && towns > 3))
        out.push(name(e) + "'s table is " + over + " px wider than its box (" + e.clientWidth + " px): a column is cut off");
    }
  }
  return out;
})()`

// walkSelfCheck shows the check an English text, a box wider than the window and a table
// cut off in its box, and fails unless the check reports each: a check that cannot fail
// proves nothing.
func walkSelfCheck(t *testing.T, ctx context.Context, lang string, areas ...string) {
	t.Helper()
	exact, _ := englishOf(lang, areas...)
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => {
  const d = document.createElement("div"); d.id = "selfcheck";
  const p = document.createElement("p"), wide = document.createElement("div"), wrap = document.createElement("div"),
    table = document.createElement("table"), td = table.insertRow().insertCell();
  p.id = "sc-en"; wide.id = "sc-wide"; wide.style.width = "2000px"; wide.style.height = "1px";
  wrap.className = "table-wrap"; td.style.whiteSpace = "nowrap"; td.textContent = "x".repeat(300);
  wrap.appendChild(table); d.append(p, wide, wrap); document.body.appendChild(d);
  document.getElementById("sc-en").textContent = `+jsString(exact[0])+`;
})()`))
	problems := strings.Join(eval[[]string](t, ctx, walkCheckJS), "\n")
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("selfcheck").remove()`))
	for _, want := range []string{"English text in p#sc-en", "the page scrolls sideways", "div#sc-wide sticks out", "div.table-wrap's table is"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the check does not see %q; it reports:\n%s", want, problems)
		}
	}
}

// walkPage checks what ctx shows against walkCheckJS and saves a screenshot named name.
func walkPage(t *testing.T, ctx context.Context, lang, name string, areas ...string) {
	t.Helper()
	exact, patterns := englishOf(lang, areas...)
	b, err := json.Marshal(map[string][]string{"exact": exact, "patterns": patterns})
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__english = `+string(b)))
	screenshot(t, ctx, "walk-"+name)
	for _, p := range eval[[]string](t, ctx, walkCheckJS) {
		t.Errorf("%s: %s", name, p)
	}
}

// trackFetches makes every page of ctx count its requests in flight (window.__inflight),
// from before the page's own script runs.
func trackFetches(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `(() => {
  window.__inflight = 0;
  const f = window.fetch;
  window.fetch = function () { window.__inflight++; return f.apply(this, arguments).finally(() => { window.__inflight--; }); };
})()`})
		return err
	}))
}

// settled waits until no request of the page is in flight for a few frames in a row: the
// tab has drawn what it asked for.
var settled = waitJS(`new Promise(r => { let n = 0; const tick = () => { n = window.__inflight === 0 ? n + 1 : 0; if (n >= 4) r(true); else requestAnimationFrame(tick); }; tick(); })`)

// showTab opens a console tab by its hash and waits until it has loaded.
func showTab(t *testing.T, ctx context.Context, tab string) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "#`+tab+`"`), waitJS(`!document.getElementById("tab-`+tab+`").hidden`), settled)
}

// walkConsole signs in to the console with token and walks its tabs: the desk with a card
// and its redemptions, the cards, a merchant with its offers, a sales point (its new secret
// asked for once), the month's report with its
// conflicts and statements, and for the network admin the towns with a town's tokens and the
// network's month.
func walkConsole(t *testing.T, a *liveApp, tabs context.Context, lang string, width int, token, who, cardNumber, netMonth string) {
	t.Helper()
	ctx := newTab(t, tabs)
	trackFetches(t, ctx)
	height := int64(900)
	if width < 700 {
		height = 760
	}
	do(t, ctx, viewport(int64(width), height), chromedp.Navigate(a.URL+"/admin"), waitJS(`!!document.getElementById("lang")`),
		chromedp.Evaluate[chromedp.Void](`localStorage.clear(); sessionStorage.clear(); localStorage.setItem("citycard.admin.lang", `+jsString(lang)+`)`),
		chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`))
	areas := []string{"admin", "towns", "pair"}
	at := who + "-" + lang + "-" + strconv.Itoa(width)
	walkPage(t, ctx, lang, "signin-"+at, areas...)
	if who == "network" && width == 360 {
		walkSelfCheck(t, ctx, lang, areas...)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), token+"\r"), waitJS(`!document.getElementById("tabs").hidden`), settled)
	network := eval[bool](t, ctx, `[...document.querySelectorAll("#tabs a.net")].every(a => !a.hidden)`)
	if network { // the network admin acts in Koper, whose card the desk looks up
		do(t, ctx, chromedp.SetValue(chromedp.ID("town"), "koper"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("town").dispatchEvent(new Event("change"))`), settled)
	}

	showTab(t, ctx, "desk")
	if cardNumber != "" {
		do(t, ctx, chromedp.SendKeys(chromedp.ID("find-number"), cardNumber+"\r"), waitJS(`!document.getElementById("card-panel").hidden`), settled)
	}
	walkPage(t, ctx, lang, "desk-"+at, areas...)
	showTab(t, ctx, "cards")
	walkPage(t, ctx, lang, "cards-"+at, areas...)
	showTab(t, ctx, "merchants")
	if eval[bool](t, ctx, `!!document.querySelector("#merchants button.edit")`) {
		do(t, ctx, chromedp.Click(chromedp.CSS("#merchants button.edit")), waitJS(`!document.getElementById("merchant-panel").hidden`), settled)
	}
	walkPage(t, ctx, lang, "merchants-"+at, areas...)
	// The sales points (in the merchants tab): one open for editing, else the new one's form.
	if eval[bool](t, ctx, `!!document.querySelector("#salespoints button.edit")`) {
		do(t, ctx, chromedp.Click(chromedp.CSS("#salespoints button.edit")), waitJS(`!document.getElementById("sp-panel").hidden`), settled)
	} else {
		do(t, ctx, chromedp.Click(chromedp.ID("sp-new")), waitJS(`!document.getElementById("sp-panel").hidden`), settled)
	}
	// One click on "new secret" only asks again: its longer text is walked too.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`(b => { if (!b.hidden) b.click(); })(document.getElementById("sp-rotate"))`))
	walkPage(t, ctx, lang, "salespoints-"+at, areas...)
	do(t, ctx, chromedp.Click(chromedp.ID("sp-close")), settled)
	showTab(t, ctx, "report")
	do(t, ctx, waitJS(`!document.getElementById("report").hidden || document.getElementById("report-state").textContent !== ""`), settled)
	walkPage(t, ctx, lang, "report-"+at, areas...)
	if !network {
		return
	}
	showTab(t, ctx, "towns")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#towns tr button.tokens`)), waitJS(`!document.getElementById("tokens-panel").hidden`), settled)
	walkPage(t, ctx, lang, "towns-"+at, areas...)
	showTab(t, ctx, "network")
	do(t, ctx, chromedp.SetValue(chromedp.ID("net-month"), netMonth), chromedp.Click(chromedp.CSS(`#net-form button[type=submit]`)),
		waitJS(`document.getElementById("net-report").dataset.month === `+jsString(netMonth)+` && !document.getElementById("net-report").hidden`), settled)
	walkPage(t, ctx, lang, "network-"+at, append(areas, "network")...)
}

// walkTill walks the till: sign-in, a checked card with its offers, the quote, the result,
// and the banner when the network goes.
func walkTill(t *testing.T, a *liveApp, tabs context.Context, lang string, width int, key, offerID string) {
	t.Helper()
	ctx := newTab(t, tabs)
	height := int64(900)
	if width < 700 {
		height = 740
	}
	at := lang + "-" + strconv.Itoa(width)
	do(t, ctx, viewport(int64(width), height), chromedp.Navigate(a.URL+"/pos"),
		chromedp.Evaluate[chromedp.Void](`localStorage.clear(); localStorage.setItem("citycard.pos.lang", `+jsString(lang)+`)`),
		chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden && document.documentElement.lang === `+jsString(lang)))
	walkPage(t, ctx, lang, "till-signin-"+at, "pos")
	url, _ := a.newCardURL(t, "koper-72h")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), key+"\r"), waitJS(`!document.getElementById("till").hidden`),
		chromedp.SendKeys(chromedp.ID("scan"), url+"\r"), waitJS(`!document.getElementById("card-panel").hidden && !!document.querySelector(".offer")`))
	walkPage(t, ctx, lang, "till-card-"+at, "pos")
	do(t, ctx, chromedp.Click(chromedp.CSS(`.offer[data-offer="`+offerID+`"]`)), chromedp.SendKeys(chromedp.ID("amount"), "18,40"),
		waitJS(`!document.getElementById("quote").hidden && !document.getElementById("confirm").disabled`))
	walkPage(t, ctx, lang, "till-quote-"+at, "pos")
	do(t, ctx, chromedp.Click(chromedp.ID("confirm")), waitJS(`!document.getElementById("result").hidden && document.getElementById("result").className === "result ok"`))
	walkPage(t, ctx, lang, "till-result-"+at, "pos")
	do(t, ctx, chromedp.Click(chromedp.ID("r-next")), waitJS(`document.getElementById("result").hidden`),
		networkOff(true), waitJS(`!document.getElementById("offline-banner").hidden`))
	walkPage(t, ctx, lang, "till-offline-"+at, "pos")
	do(t, ctx, networkOff(false))
}

func TestBrowserWalk(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	var ptuj tools.DemoTown
	for _, tr := range a.demo.Towns {
		if tr.Code == "ptuj" {
			ptuj = tr
		}
	}
	// An open conflict, so the report shows the conflicts' table with its decision column.
	inn, innKey := a.merchantKey(t, "Gostilna Pod Taverno")
	number, _ := a.offlineConflict(t, innKey, a.offerID(t, inn.ID, "Tourist menu for €14.00"), "walk")
	palace, palaceKey := a.merchantKey(t, "Pretorska palača")
	souvenirs := a.offerID(t, palace.ID, "10% off souvenirs")
	// The network's month: the demo's month with redemptions across towns.
	netMonth := ""
	for _, m := range []string{time.Now().In(a.db.Loc).Format("2006-01"), time.Now().In(a.db.Loc).AddDate(0, 0, -15).Format("2006-01")} {
		var net struct {
			Clearing []struct{ Issuer, Acceptor string } `json:"clearing"`
		}
		if code := a.apiJSON(t, "GET", "/api/v1/reports/network?month="+m, a.adminToken, "", nil, &net); code != 200 {
			t.Fatalf("network report %s: %d", m, code)
		}
		for _, c := range net.Clearing {
			if c.Issuer != c.Acceptor && netMonth == "" {
				netMonth = m
			}
		}
	}
	if netMonth == "" {
		t.Fatal("no month of the demo has redemptions across towns")
	}

	langs, widths := []string{"sl", "it"}, []int{360, 1280}
	for _, lang := range langs {
		for _, width := range widths {
			t.Run("two towns "+lang+"-"+strconv.Itoa(width), func(t *testing.T) {
				walkConsole(t, a, tabs, lang, width, a.adminToken, "network", number, netMonth)
				walkConsole(t, a, tabs, lang, width, ptuj.OfficeToken, "office", "", netMonth)
				walkTill(t, a, tabs, lang, width, palaceKey, souvenirs)
			})
		}
	}

	// Eight towns more: the switcher, the towns and the network's matrix of ten.
	for _, tw := range []struct{ code, sl, it string }{
		{"kranj", "Kranj", "Kranj"}, {"izola", "Izola", "Isola"}, {"piran", "Piran", "Pirano"}, {"celje", "Celje", "Celje"},
		{"maribor", "Maribor", "Maribor"}, {"bled", "Bled", "Bled"}, {"bovec", "Bovec", "Plezzo"}, {"lendava", "Lendava", "Lendava"},
	} {
		body := map[string]any{"code": tw.code, "name": map[string]string{"sl": tw.sl, "it": tw.it}, "timezone": "Europe/Ljubljana", "languages": []string{"sl", "it"}}
		if code := a.apiJSON(t, "POST", "/api/v1/towns", a.adminToken, "", body, nil); code != 201 {
			t.Fatalf("creating %s: %d", tw.code, code)
		}
	}
	for _, lang := range langs {
		for _, width := range widths {
			t.Run("ten towns "+lang+"-"+strconv.Itoa(width), func(t *testing.T) {
				walkConsole(t, a, tabs, lang, width, a.adminToken, "network10", number, netMonth)
			})
		}
	}
}

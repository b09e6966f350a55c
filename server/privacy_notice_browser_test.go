package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The privacy notice (issue 22) in a real browser, in Slovene and Italian at 360 and 1280
// px: the card page, the front door and the till's sign-in link to it; Ptuj's notice, not
// filled in, names the municipality of Ptuj in Ptuj's card name and colour with no sideways
// scroll; Koper's, filled in by the demo, its controller and e-mail; the console's town settings say it is not filled in and fill it in, and the
// notice then names the controller with its e-mail link.
func TestBrowserPrivacyNotice(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	const ptujRGB = "rgb(138, 21, 56)"
	for _, lang := range []string{"sl", "it"} {
		for _, width := range []int{360, 1280} {
			name := lang + "-" + strconv.Itoa(width)
			height := int64(900)
			if width < 700 {
				height = 760
			}
			t.Run("notice "+name, func(t *testing.T) {
				ctx := newTab(t, tabs)
				// From Ptuj's front door, by its link.
				do(t, ctx, browserLanguage(lang), viewport(int64(width), height), chromedp.Navigate(a.URL+"/t/ptuj"),
					waitJS(`!!document.getElementById("link-privacy")`), chromedp.Click(chromedp.ID("link-privacy")),
					waitJS(`location.pathname === "/privacy" && document.readyState === "complete" && !!document.getElementById("controller-name")`))
				if got := eval[string](t, ctx, `document.documentElement.lang`); got != lang {
					t.Errorf("the notice is in %q", got)
				}
				controller := map[string]string{"sl": "Občina Ptuj", "it": "Comune di Ptuj"}[lang]
				if got := jsText(t, ctx, "#controller-name"); got != controller {
					t.Errorf("the unset notice names %q, want %q", got, controller)
				}
				if got := jsText(t, ctx, "#card-name"); got != "Ptuj Card" {
					t.Errorf("the notice's card name: %q", got)
				}
				if got := eval[string](t, ctx, `getComputedStyle(document.querySelector(".hero")).backgroundColor`); got != ptujRGB {
					t.Errorf("the notice's header is %s, want Ptuj's %s", got, ptujRGB)
				}
				text := jsText(t, ctx, "main")
				for _, want := range map[string][]string{
					"sl": {"30 dni", "90 dneh", "Informacijski pooblaščenec", "izbrisa", "ugovora", "popravka", "dostopa"},
					"it": {"30 giorni", "90 giorni", "Informacijski pooblaščenec", "cancellazione", "opporti", "rettifica", "accedere"},
				}[lang] {
					if !strings.Contains(text, want) {
						t.Errorf("the notice lacks %q", want)
					}
				}
				if strings.Contains(text, "Koper") || strings.Contains(text, "Capodistria") {
					t.Error("Ptuj's notice names Koper")
				}
				noSideScroll(t, ctx, width, "privacy notice")
				screenshot(t, ctx, "privacy-ptuj-"+name)

				// The card page and the till's sign-in link to a notice too.
				do(t, ctx, chromedp.Navigate(a.cardURL(t, "koper-72h")+"?lang="+lang), waitJS(`!!document.getElementById("link-privacy")`))
				if href := eval[string](t, ctx, `document.getElementById("link-privacy").getAttribute("href")`); href != "/privacy?town=koper&lang="+lang {
					t.Errorf("the card page links to %q", href)
				}
				do(t, ctx, chromedp.ScrollIntoView(chromedp.ID("link-privacy")))
				screenshotScreen(t, ctx, "privacy-card-link-"+name)
				// Koper's notice, filled in by the demo: its controller and e-mail link.
				do(t, ctx, chromedp.Click(chromedp.ID("link-privacy")), waitJS(`location.pathname === "/privacy" && document.readyState === "complete" && !!document.getElementById("controller-name")`))
				if got := jsText(t, ctx, "#controller-name"); !strings.Contains(got, "Mestna občina Koper") {
					t.Errorf("Koper's notice names %q", got)
				}
				if href := eval[string](t, ctx, `document.querySelector("#controller-contact a").getAttribute("href")`); href != "mailto:varstvo.podatkov@koper.example" {
					t.Errorf("Koper's contact links to %q", href)
				}
				if width == 360 {
					screenshot(t, ctx, "privacy-koper-"+name)
				}
				do(t, ctx, chromedp.Navigate(a.URL+"/pos"), waitJS(`!!document.getElementById("lang")`),
					chromedp.Evaluate[chromedp.Void](`localStorage.setItem("citycard.pos.lang", `+jsString(lang)+`)`),
					chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`))
				if !eval[bool](t, ctx, `(() => { const l = document.getElementById("link-privacy"); return !!l && l.getBoundingClientRect().height > 0 && l.textContent.trim() !== ""; })()`) {
					t.Error("the till's sign-in shows no link to the privacy notice")
				}
				if href := eval[string](t, ctx, `document.getElementById("link-privacy").getAttribute("href")`); href != "/privacy?lang="+lang {
					t.Errorf("the till's sign-in links to %q, want the notices in the till's language", href)
				}
				screenshotScreen(t, ctx, "privacy-till-link-"+name)
			})
		}
	}

	t.Run("console fills it in", func(t *testing.T) {
		ctx := signInConsole(t, a, tabs, "sl", 1280, "#towns", a.adminToken)
		do(t, ctx, waitJS(`!!document.querySelector('#towns tr[data-code="ptuj"] button.edit')`),
			chromedp.Click(chromedp.CSS(`#towns tr[data-code="ptuj"] button.edit`)),
			waitJS(`!document.getElementById("town-panel").hidden && !document.getElementById("t-privacy-unset").hidden`))
		if got := jsText(t, ctx, "#t-privacy-unset"); !strings.Contains(got, "ni izpolnjeno") || !strings.Contains(got, "Ptuj") {
			t.Errorf("the note on an unset notice: %q", got)
		}
		do(t, ctx, chromedp.ScrollIntoView(chromedp.ID("t-privacy")))
		screenshotScreen(t, ctx, "privacy-console-unset")
		// A bad contact is refused with its sentence; then a good one is saved.
		do(t, ctx, chromedp.SetValue(chromedp.ID("t-controller"), "Mestna občina Ptuj"), chromedp.SendKeys(chromedp.ID("t-contact"), "ptuj"),
			chromedp.Click(chromedp.ID("town-save")), waitJS(`document.getElementById("town-error").textContent !== ""`))
		if got := jsText(t, ctx, "#town-error"); !strings.Contains(got, "Kontakt") {
			t.Errorf("a bad contact's message: %q", got)
		}
		do(t, ctx, clear("t-contact"), chromedp.SendKeys(chromedp.ID("t-contact"), "dpo@ptuj.si"),
			chromedp.SendKeys(chromedp.ID("t-address"), "Mestni trg 1, 2250 Ptuj"),
			chromedp.Click(chromedp.ID("town-save")), waitJS(`document.getElementById("town-ok").textContent !== ""`),
			waitJS(`document.getElementById("t-privacy-unset").hidden`))
		var tw townJSON
		a.apiJSON(t, "GET", "/api/v1/towns/ptuj", a.adminToken, "", nil, &tw)
		if tw.Privacy != (townPrivacyJSON{Controller: "Mestna občina Ptuj", Address: "Mestni trg 1, 2250 Ptuj", Contact: "dpo@ptuj.si"}) {
			t.Errorf("stored privacy: %+v", tw.Privacy)
		}
		screenshotScreen(t, ctx, "privacy-console-set")

		nctx := newTab(t, tabs)
		do(t, nctx, viewport(360, 760), chromedp.Navigate(a.URL+"/t/ptuj/privacy?lang=it"), waitJS(`!!document.getElementById("controller-contact")`))
		if got := jsText(t, nctx, "#controller-name"); got != "Mestna občina Ptuj" {
			t.Errorf("the notice names %q", got)
		}
		if href := eval[string](t, nctx, `document.querySelector("#controller-contact a").getAttribute("href")`); href != "mailto:dpo@ptuj.si" {
			t.Errorf("the contact links to %q", href)
		}
		noSideScroll(t, nctx, 360, "privacy notice, set")
		screenshot(t, nctx, "privacy-ptuj-set-it-360")
	})
}

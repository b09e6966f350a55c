package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/server/i18n"
)

// Errors people can act on (issue 19), in the reader's language: the console shows the
// server's message about a bad IBAN in its own language; the till says a wrong key is wrong
// and whom to ask, and where a card of another town is valid.

func TestBrowserErrorsLocalized(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	var ptujKey string
	for _, tw := range a.demo.Towns {
		if tw.Code == "ptuj" {
			ptujKey = tw.MerchantKey
		}
	}
	if ptujKey == "" {
		t.Fatal("the demo has no Ptuj merchant")
	}
	want := map[string]struct{ iban, koper string }{
		"sl": {"IBAN ni veljaven", "Koper"},
		"it": {"L'IBAN non è valido", "Capodistria"},
	}
	for _, lang := range []string{"sl", "it"} {
		for _, width := range []int{360, 1280} {
			t.Run("console IBAN "+lang, func(t *testing.T) {
				ct := openConsole(t, a, tabs, lang, width, "#merchants")
				ctx := ct.ctx
				do(t, ctx, waitJS(`document.querySelectorAll("#merchants tr").length >= 2`),
					chromedp.Click(chromedp.CSS(`#merchants tr:nth-child(2) button.edit`)), waitJS(`!document.getElementById("merchant-panel").hidden`),
					clear("m-iban"), chromedp.SendKeys(chromedp.ID("m-iban"), "SI56 1910 0000 0123 439"),
					chromedp.Click(chromedp.ID("merchant-save")), waitJS(`document.getElementById("merchant-error").textContent !== ""`))
				got := jsText(t, ctx, "#merchant-error")
				if !strings.HasPrefix(got, want[lang].iban) || strings.Contains(got, "invalid request") {
					t.Errorf("the console says %q, want %q…", got, want[lang].iban)
				}
				ct.check(t, "errors-console-iban-"+lang)
			})
		}

		// A browser of its own per language: the till keeps its key and data on the device.
		till := newBrowser(t)
		t.Run("till wrong key "+lang, func(t *testing.T) {
			ctx := newTab(t, till)
			do(t, ctx, viewport(360, 640), chromedp.Navigate(a.URL+"/pos"), chromedp.Evaluate[chromedp.Void](`localStorage.clear()`),
				chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`),
				chromedp.SetValue(chromedp.ID("lang"), lang),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("lang").dispatchEvent(new Event("change"))`),
				waitJS(`document.documentElement.lang === "`+lang+`"`),
				chromedp.SendKeys(chromedp.ID("key"), "ccm_this-key-was-replaced-0123456789\r"),
				waitJS(`document.getElementById("signin-error").textContent !== ""`))
			got := jsText(t, ctx, "#signin-error")
			if w := i18n.Translate("pos", lang, "signin.key_rejected"); got != w {
				t.Errorf("a wrong key at the till says %q, want %q", got, w)
			}
			noSideScroll(t, ctx, 360, "errors-till-key-"+lang)
			screenshot(t, ctx, "errors-till-key-"+lang+"-360")
		})

		t.Run("till card of another town "+lang, func(t *testing.T) {
			ctx := newTab(t, till)
			do(t, ctx, viewport(360, 740), chromedp.Navigate(a.URL+"/pos"), chromedp.Evaluate[chromedp.Void](`localStorage.clear()`),
				chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`),
				chromedp.SetValue(chromedp.ID("lang"), lang),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("lang").dispatchEvent(new Event("change"))`),
				chromedp.SendKeys(chromedp.ID("key"), ptujKey+"\r"), waitJS(`!document.getElementById("till").hidden`),
				chromedp.SendKeys(chromedp.ID("scan"), a.demo.CardURL+"\r"), waitJS(`!document.getElementById("card-panel").hidden`))
			note := jsText(t, ctx, "#card-note")
			w := strings.SplitN(i18n.Translate("pos", lang, "card.accepted_in"), "{towns}", 2)[0]
			if !strings.HasPrefix(note, w) || !strings.Contains(note, want[lang].koper) {
				t.Errorf("the till's note for a Koper card at Ptuj: %q, want %q… naming %s", note, w, want[lang].koper)
			}
			if whys := eval[[]string](t, ctx, `[...document.querySelectorAll("#offers .why")].map(e => e.textContent)`); len(whys) != 0 {
				t.Errorf("a refusal under the offers: %q", whys)
			}
			if body := jsText(t, ctx, "#card-panel"); strings.Contains(body, "card_not_accepted") || strings.Contains(body, i18n.Translate("pos", lang, "card.first_use")) {
				t.Errorf("the card panel reads %q", body)
			}
			noSideScroll(t, ctx, 360, "errors-till-other-town-"+lang)
			screenshot(t, ctx, "errors-till-other-town-"+lang+"-360")
		})
	}
}

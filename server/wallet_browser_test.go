package main

import (
	"io"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserWalletBadges: with both wallets configured the card page shows the two badges
// in the page's language, each linking to its pass; on a narrow phone they do not make the
// page scroll sideways.
func TestBrowserWalletBadges(t *testing.T) {
	apns, google := newFakeAPNs(t), newFakeGoogle(t)
	opt, _ := walletConfigured(t, apns, google)
	ts := newTestServer(t, live(), seeded(), realClock(), asServed(), rateLimit(0), opt, logTo(io.Discard))
	tabs := newBrowser(t)
	for _, tc := range []struct{ lang, apple, google string }{
		{"sl", "Dodaj v", "Shrani v"}, {"it", "Aggiungi a", "Salva in"}, {"en", "Add to", "Save to"}, {"de", "Hinzufügen zu", "Speichern in"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			ctx := newTab(t, tabs)
			do(t, ctx, viewport(360, 1200), chromedp.Navigate(ts.demo.CardURL+"?lang="+tc.lang), waitJS(`!!document.querySelector("#apple-wallet")`))
			if got := jsText(t, ctx, "#apple-wallet"); !strings.Contains(got, tc.apple) || !strings.Contains(got, "Apple Wallet") {
				t.Errorf("the Apple badge reads %q", got)
			}
			if got := jsText(t, ctx, "#google-wallet"); !strings.Contains(got, tc.google) || !strings.Contains(got, "Google Wallet") {
				t.Errorf("the Google badge reads %q", got)
			}
			if href := eval[string](t, ctx, `document.querySelector("#apple-wallet").getAttribute("href")`); !strings.HasSuffix(href, "/pass.pkpass") {
				t.Errorf("the Apple badge links to %q", href)
			}
			noSideScroll(t, ctx, 360, "card page")
			screenshot(t, ctx, "wallet-badges-"+tc.lang)
		})
	}
}

package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/server/wallet/wallettest"
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

// TestBrowserWalletCertificateWarning: the network admin's console warns, in its language,
// of an Apple Wallet certificate that expires within 30 days.
func TestBrowserWalletCertificateWarning(t *testing.T) {
	dir := t.TempDir()
	chain := wallettest.NewChain(t, time.Now().Add(10*24*time.Hour))
	p12, wwdr := filepath.Join(dir, "pass.p12"), filepath.Join(dir, "wwdr.pem")
	os.WriteFile(p12, chain.P12, 0o600)
	os.WriteFile(wwdr, chain.WWDRPEM, 0o600)
	ts := newTestServer(t, live(), seeded(), realClock(), asServed(), rateLimit(0), logTo(io.Discard),
		withAdmin("cca_browser-test-admin-token-0123456789"), withConfig(func(c *Config) {
			c.Wallet = WalletConfig{AppleCert: p12, ApplePassword: wallettest.Password, AppleWWDR: wwdr,
				ApplePassTypeID: wallettest.PassTypeID, AppleTeamID: wallettest.TeamID}
		}))
	a := &liveApp{URL: ts.url, db: ts.db, srv: ts.s, adminToken: ts.admin, demo: ts.demo, ts: ts}
	tabs := newBrowser(t)
	ctx := signInConsole(t, a, tabs, "it", 1280, "", a.adminToken)
	do(t, ctx, waitJS(`!document.getElementById("wallet-cert").hidden`))
	if got := jsText(t, ctx, "#wallet-cert"); !strings.Contains(got, "Il certificato di Apple Wallet") || !strings.Contains(got, "apple_pass") {
		t.Errorf("the console warns %q", got)
	}
	screenshot(t, ctx, "wallet-cert-warning-it")
}

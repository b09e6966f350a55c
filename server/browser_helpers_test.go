package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/tools"
	"github.com/citycard/citycard/storage"
)

// liveApp is the real Fiber app on a 127.0.0.1 listener, on a fresh database holding the demo
// data set, with the real clock (a browser's own clock must agree with the server's).
type liveApp struct {
	URL        string
	db         *storage.DB
	srv        *server
	adminToken string
	demo       tools.DemoResult

	ts *testServer
}

// startLiveApp is the browser tests' server: newTestServer live, seeded, on the real clock,
// without rate limits (a page makes many calls; the limiter is not what these tests are about).
func startLiveApp(t *testing.T) *liveApp {
	t.Helper()
	ts := newTestServer(t, live(), seeded(), realClock(), asServed(), rateLimit(0),
		withAdmin("cca_browser-test-admin-token-0123456789"), logTo(io.Discard))
	return &liveApp{URL: ts.url, db: ts.db, srv: ts.s, adminToken: ts.admin, demo: ts.demo, ts: ts}
}

// stop shuts the HTTP server down; the port then refuses connections.
func (a *liveApp) stop() { a.ts.stop() }

// chromiumPath finds the browser. Without one the browser tests skip, except in CI (CI=true),
// where a missing browser is a failure: .ci/install-browser installs it there.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CITYCARD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found (CI=true, so this is an error: run .ci/install-browser)")
	}
	t.Skip("chromium not found; install it (.ci/install-browser) to run the browser tests")
	return ""
}

// newBrowser starts one headless Chromium with a fresh profile for the test function and
// returns the context of its first tab. Subtests open more tabs with newTab.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// Start the browser now, so a broken installation fails here with a clear message.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// newTab opens a tab in the browser of ctx, closed when the (sub)test ends, with a time limit.
// The test fails if the page throws an uncaught exception or breaks the Content-Security-Policy
// (an inline script or style, a third-party request): both are bugs a user would meet.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	if err := chromedp.Do(tab); err != nil {
		cancel()
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bad []string
	done := make(chan struct{})
	messages := chromedp.Console(tab)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				bad = append(bad, string(m.Type)+": "+m.Text+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	ctx, cancelTime := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(func() {
		cancelTime()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bad {
			t.Errorf("browser console: %s", b)
		}
	})
	return ctx
}

// do runs browser actions and fails the test on error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the tab and fails the test on error.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// viewport sets the tab's size; phone widths are emulated as a mobile device (the meta
// viewport applies, as on a phone).
func viewport(width, height int64) chromedp.Action[chromedp.Void] {
	if width < 700 {
		return chromedp.EmulateViewport(width, height, chromedp.EmulateMobile)
	}
	return chromedp.EmulateViewport(width, height)
}

// jsText is the text content of the first element matching a CSS selector, "" if none.
func jsText(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	return strings.TrimSpace(eval[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, selector)))
}

// waitJS polls a JavaScript expression (a promise is awaited) until it is true. Errors while
// the page navigates (its JavaScript context goes away) are retried, not fatal.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("waiting for %s: %v (last error %v)", expr, ctx.Err(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// screenshot saves a full-page PNG to $CITYCARD_SCREENSHOTS/name.png when that variable names a
// directory: for people to look at the pages, not for asserting.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	saveScreenshot(t, ctx, name, chromedp.FullScreenshot(100))
}

// screenshotScreen saves what is on the screen only: for full-screen overlays, which a
// full-page capture cuts.
func screenshotScreen(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	saveScreenshot(t, ctx, name, chromedp.CaptureScreenshot())
}

func saveScreenshot(t *testing.T, ctx context.Context, name string, capture chromedp.Action[[]byte]) {
	t.Helper()
	dir := os.Getenv("CITYCARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, capture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	// Long pages are also cut into screen-high parts, name-1.png, name-2.png, …, which are
	// easier to look at.
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	part := b.Dx() * 2
	if b.Dy() <= part*5/4 {
		return
	}
	for i, y := 1, b.Min.Y; y < b.Max.Y; i, y = i+1, y+part {
		sub := img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(b.Min.X, y, b.Max.X, min(y+part, b.Max.Y)))
		var out bytes.Buffer
		if err := png.Encode(&out, sub); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, i)), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// merchantKey gives Koper's demo merchant called name a fresh API key and returns both.
func (a *liveApp) merchantKey(t *testing.T, name string) (merchant.Merchant, string) {
	t.Helper()
	return a.merchantKeyIn(t, "koper", name)
}

// merchantKeyIn is merchantKey in town.
func (a *liveApp) merchantKeyIn(t *testing.T, town, name string) (merchant.Merchant, string) {
	t.Helper()
	ctx := context.Background()
	ms, _, err := a.db.Merchants(ctx, town, storage.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == name {
			key := newSecret("ccm")
			sum := sha256.Sum256([]byte(key))
			if err := a.db.SetMerchantKey(ctx, town, m.ID, sum[:]); err != nil {
				t.Fatal(err)
			}
			return m, key
		}
	}
	t.Fatalf("no demo merchant %q in %s", name, town)
	return merchant.Merchant{}, ""
}

// offerID is the id of the merchant's offer whose English title is title.
func (a *liveApp) offerID(t *testing.T, merchantID, title string) string {
	t.Helper()
	offers, _, err := a.db.Offers(context.Background(), "koper", merchantID, storage.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offers {
		if o.Title["en"] == title {
			return o.ID
		}
	}
	t.Fatalf("no offer %q", title)
	return ""
}

// cardURL is the page of the first demo card of product.
func (a *liveApp) cardURL(t *testing.T, product string) string {
	t.Helper()
	cards, _, err := a.db.Cards(context.Background(), storage.CardFilter{Town: "koper", Product: product}, storage.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) == 0 {
		t.Fatalf("no demo card of %s", product)
	}
	return a.srv.cardURL("koper", cards[len(cards)-1].Token)
}

// redemptions lists the redemptions of a merchant, newest first.
func (a *liveApp) redemptions(t *testing.T, merchantID string) []merchant.Redemption {
	t.Helper()
	rs, _, err := a.db.Redemptions(context.Background(), storage.RedemptionFilter{Town: "koper", MerchantID: merchantID}, storage.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// apiStatus calls the API with a bearer secret and returns the status code.
func (a *liveApp) apiStatus(t *testing.T, method, path, secret string) int {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// noSideScroll fails the test when the page is wider than the window.
func noSideScroll(t *testing.T, ctx context.Context, width int, page string) {
	t.Helper()
	got := eval[[]int](t, ctx, `[document.documentElement.scrollWidth, window.innerWidth]`)
	if got[0] > got[1] || got[1] != width {
		// Name the elements that stick out, to make the failure easy to fix.
		wide := eval[[]string](t, ctx, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > `+strconv.Itoa(width)+` + 0.5)
			.slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && e.className.baseVal === undefined ? "." + e.className : "") + " right=" + Math.round(e.getBoundingClientRect().right))`)
		t.Errorf("%s at %d px: the page scrolls sideways (scrollWidth %d, innerWidth %d); too wide: %v", page, width, got[0], got[1], wide)
	}
}

// holdFirstRequest makes the next request of tab ctx whose URL matches pattern (a Fetch
// pattern, * for any text) wait in the browser, unanswered, until release is called; later
// requests of the pattern go through. For a tab that intercepts nothing else (the console's
// tab has consoleTab.holdFirst).
func holdFirstRequest(t *testing.T, ctx context.Context, pattern string) (release func()) {
	t.Helper()
	held := make(chan fetch.RequestID, 1)
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		first := true
		for ev, err := range paused {
			if err != nil {
				return
			}
			if first {
				first = false
				held <- ev.RequestID
				continue
			}
			chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern, RequestStage: fetch.RequestStageRequest}}})
		return err
	}))
	return releaser(t, ctx, held, pattern)
}

// releaser lets the request held on held go on; it fails the test if none was held.
func releaser(t *testing.T, ctx context.Context, held <-chan fetch.RequestID, pattern string) func() {
	return func() {
		t.Helper()
		select {
		case id := <-held:
			do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
				return err
			}))
		case <-time.After(15 * time.Second):
			t.Fatalf("no request of %s was held", pattern)
		}
	}
}

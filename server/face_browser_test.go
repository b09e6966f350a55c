package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/server/tools"
)

// Each town's own face (issue 19), in Slovene and Italian at 360 and 1280 px, on the demo
// (Koper: "Koper Card", #0b5cad; Ptuj: "Ptuj Card", #8a1538): the front door lists both
// towns in their colours; /t/ptuj is Ptuj's card and Ptuj's offers only, in Ptuj's colour;
// Ptuj's till and office say "Ptuj Card" (a bad code too), never "Koper Card", in its colour.
func TestBrowserTownFace(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	var ptuj tools.DemoTown
	for _, tr := range a.demo.Towns {
		if tr.Code == "ptuj" {
			ptuj = tr
		}
	}
	if ptuj.OfficeToken == "" {
		t.Fatalf("the demo has no Ptuj office: %+v", a.demo.Towns)
	}
	const ptujRGB, koperRGB, white = "rgb(138, 21, 56)", "rgb(11, 92, 173)", "rgb(255, 255, 255)"
	style := func(t *testing.T, ctx context.Context, selector, prop string) string {
		t.Helper()
		return eval[string](t, ctx, `getComputedStyle(document.querySelector(`+jsString(selector)+`)).`+prop)
	}
	noKoper := func(t *testing.T, ctx context.Context, where string) {
		t.Helper()
		if body := eval[string](t, ctx, `document.title + " " + document.body.innerText`); strings.Contains(body, "Koper Card") {
			t.Errorf("%s says Koper Card: %.300s", where, body)
		}
	}
	for _, lang := range []string{"sl", "it"} {
		for _, width := range []int{360, 1280} {
			name := lang + "-" + strconv.Itoa(width)
			height := int64(900)
			if width < 700 {
				height = 760
			}
			t.Run("front door "+name, func(t *testing.T) {
				ctx := newTab(t, tabs)
				do(t, ctx, browserLanguage(lang), viewport(int64(width), height), chromedp.Navigate(a.URL+"/"),
					waitJS(`document.querySelectorAll(".towns .town").length > 0`))
				if got := eval[[]string](t, ctx, `[...document.querySelectorAll(".towns .town .card-name")].map(e => e.textContent)`); len(got) != 2 || !contains(got, "Koper Card") || !contains(got, "Ptuj Card") {
					t.Errorf("the front door lists %v, want Koper Card and Ptuj Card", got)
				}
				if got := style(t, ctx, `.town[data-town="ptuj"] a`, "backgroundColor"); got != ptujRGB {
					t.Errorf("Ptuj's tile is %s, want %s", got, ptujRGB)
				}
				if got := style(t, ctx, `.town[data-town="koper"] a`, "backgroundColor"); got != koperRGB {
					t.Errorf("Koper's tile is %s, want %s", got, koperRGB)
				}
				if n := eval[int](t, ctx, `document.querySelectorAll(".offers .offer").length`); n != 0 {
					t.Errorf("the network's front door mixes %d offers of every town", n)
				}
				noSideScroll(t, ctx, width, "front door")
				screenshot(t, ctx, "face-door-"+name)

				do(t, ctx, chromedp.Click(chromedp.CSS(`.town[data-town="ptuj"] a`)), waitJS(`location.pathname === "/t/ptuj" && !!document.querySelector(".offers")`))
				if got := jsText(t, ctx, "h1"); got != "Ptuj Card" {
					t.Errorf("Ptuj's page is titled %q", got)
				}
				if got := eval[string](t, ctx, `document.documentElement.lang`); got != lang {
					t.Errorf("Ptuj's page in %q", got)
				}
				offers := jsText(t, ctx, ".offers")
				if !strings.Contains(offers, "Mestni stolp Ptuj") || strings.Contains(offers, "Gostilna Pod Taverno") || strings.Contains(offers, "Pokrajinski muzej Koper") {
					t.Errorf("Ptuj's offers: %.400s", offers)
				}
				if got := style(t, ctx, ".hero", "backgroundColor"); got != ptujRGB {
					t.Errorf("Ptuj's header is %s, want %s", got, ptujRGB)
				}
				if got := style(t, ctx, ".hero", "color"); got != white {
					t.Errorf("text on Ptuj's header is %s, want white", got)
				}
				noKoper(t, ctx, "/t/ptuj")
				noSideScroll(t, ctx, width, "/t/ptuj")
				screenshot(t, ctx, "face-ptuj-"+name)
			})

			t.Run("network card "+name, func(t *testing.T) {
				ctx := newTab(t, tabs)
				do(t, ctx, viewport(int64(width), height), chromedp.Navigate(a.demo.NetworkCardURL+"?lang="+lang),
					waitJS(`!!document.querySelector(".benefits")`))
				if got := jsText(t, ctx, "#valid-in"); !strings.Contains(got, "Ptuj") || !(strings.Contains(got, "Koper") || strings.Contains(got, "Capodistria")) {
					t.Errorf("the network card's page says where it is valid: %q", got)
				}
				if got := eval[[]string](t, ctx, `[...document.querySelectorAll(".benefits section.town")].map(s => s.dataset.town)`); !contains(got, "koper") || !contains(got, "ptuj") {
					t.Errorf("the network card's benefits are grouped by towns %v", got)
				}
				if got := style(t, ctx, `section.town[data-town="ptuj"] h3.town-name`, "borderBottomColor"); got != ptujRGB {
					t.Errorf("Ptuj's heading is underlined in %s, want %s", got, ptujRGB)
				}
				if got := jsText(t, ctx, "#card-name"); got == "" {
					t.Error("the card page names no card")
				}
				noSideScroll(t, ctx, width, "network card")
				screenshot(t, ctx, "face-card-"+name)
			})

			t.Run("till "+name, func(t *testing.T) {
				_, key := a.merchantKeyIn(t, "ptuj", "Mestni stolp Ptuj")
				ctx := newTab(t, tabs)
				do(t, ctx, viewport(int64(width), height), chromedp.Navigate(a.URL+"/pos"), waitJS(`!!document.getElementById("lang")`),
					chromedp.Evaluate[chromedp.Void](`localStorage.clear(); localStorage.setItem("citycard.pos.lang", `+jsString(lang)+`)`),
					chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`))
				noKoper(t, ctx, "the till's sign-in in a network")
				do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), key+"\r"), waitJS(`!document.getElementById("till").hidden`),
					waitJS(`document.getElementById("card-name").textContent === "Ptuj Card"`))
				if got := eval[string](t, ctx, `document.title`); !strings.HasPrefix(got, "Ptuj Card · ") {
					t.Errorf("the till's title is %q", got)
				}
				if got := style(t, ctx, ".bar", "backgroundColor"); got != ptujRGB {
					t.Errorf("Ptuj's till bar is %s, want %s", got, ptujRGB)
				}
				do(t, ctx, chromedp.SendKeys(chromedp.ID("scan"), "1234 5678 9012\r"), waitJS(`document.getElementById("scan-error").textContent !== ""`))
				if got := jsText(t, ctx, "#scan-error"); !strings.Contains(got, "Ptuj Card") {
					t.Errorf("a bad code at Ptuj's till: %q", got)
				}
				if width < 700 {
					if !eval[bool](t, ctx, `document.getElementById("card-name").getBoundingClientRect().width > 0`) {
						t.Error("the card's name is not shown at 360 px")
					}
				}
				noKoper(t, ctx, "Ptuj's till")
				noSideScroll(t, ctx, width, "Ptuj's till")
				screenshot(t, ctx, "face-till-"+name)
			})

			t.Run("console "+name, func(t *testing.T) {
				ctx := signInConsole(t, a, tabs, lang, width, "#desk", ptuj.OfficeToken)
				do(t, ctx, waitJS(`document.getElementById("card-name").textContent === "Ptuj Card"`))
				if got := eval[string](t, ctx, `document.title`); !strings.HasPrefix(got, "Ptuj Card · ") {
					t.Errorf("the console's title is %q", got)
				}
				if got := style(t, ctx, ".bar", "backgroundColor"); got != ptujRGB {
					t.Errorf("Ptuj's console bar is %s, want %s", got, ptujRGB)
				}
				noKoper(t, ctx, "Ptuj's console")
				noSideScroll(t, ctx, width, "Ptuj's console")
				screenshot(t, ctx, "face-console-"+name)
			})
		}
	}
}

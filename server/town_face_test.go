package main

import (
	"strings"
	"testing"
)

// A town's card name and colour over HTTP (issue 19): the defaults in the town JSON and the
// public list, PATCH sets them (network admin only), a bad colour or an over-long name is
// 400 invalid_request naming the field, and nothing changes.
func TestTownFaceAPI(t *testing.T) {
	e := newTownsEnv(t)
	type townOut struct {
		Code     string            `json:"code"`
		CardName map[string]string `json:"card_name"`
		Color    string            `json:"color"`
	}
	var tw townOut
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/towns/ptuj", secret: e.admin}, &tw)
	if tw.CardName["sl"] != "Ptuj Card" || tw.Color != "#0b5cad" {
		t.Fatalf("ptuj's defaults: %+v", tw)
	}
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin,
		body: `{"card_name":{"sl":"Ptujska kartica","it":"Carta di Ptuj"},"color":"#8A1538"}`}, &tw)
	if tw.CardName["sl"] != "Ptujska kartica" || tw.CardName["it"] != "Carta di Ptuj" || tw.Color != "#8a1538" {
		t.Fatalf("after PATCH: %+v", tw)
	}
	for _, bad := range []struct{ body, mention string }{
		{`{"color":"red"}`, "color"},
		{`{"color":"#12345"}`, "#rrggbb"},
		{`{"card_name":{"sl":"` + strings.Repeat("x", 61) + `"}}`, "card_name.sl"},
		{`{"card_name":{"xx":"Carte"}}`, "card_name"},
	} {
		body := e.call(t, 400, "invalid_request", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin, body: bad.body}, nil)
		if !strings.Contains(string(body), bad.mention) {
			t.Errorf("%s: %s does not mention %s", bad.body, body, bad.mention)
		}
	}
	e.call(t, 403, "forbidden", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.officeP, body: `{"color":"#000000"}`}, nil)

	var pub struct {
		Items []townOut `json:"items"`
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/towns"}, &pub)
	seen := map[string]townOut{}
	for _, x := range pub.Items {
		seen[x.Code] = x
	}
	if p := seen["ptuj"]; p.Color != "#8a1538" || p.CardName["sl"] != "Ptujska kartica" {
		t.Fatalf("public ptuj: %+v", p)
	}
	if k := seen["koper"]; k.Color != "#0b5cad" || k.CardName["sl"] != "Koper Card" {
		t.Fatalf("public koper: %+v", k)
	}
}

// The front door of a deployment of two towns lists both, each with its card name, colour
// and link; /t/ptuj is Ptuj's page (its card, its offers only, its colour); a request for
// Ptuj's public_url host gets Ptuj's page at /; an unknown town is 404 with the list.
func TestTownFrontDoors(t *testing.T) {
	e := newTownsEnv(t)
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin,
		body: `{"card_name":{"sl":"Ptujska kartica","it":"Carta di Ptuj"},"color":"#f2c14e","public_url":"https://ptuj.example"}`}, nil)
	page := func(path string, header map[string]string, status int) string {
		t.Helper()
		resp, body := e.do(secReq{method: "GET", path: path, header: header})
		if resp.StatusCode != status {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
		return string(body)
	}
	must := func(where, body string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s does not say %q", where, w)
			}
		}
	}
	mustNot := func(where, body string, not ...string) {
		t.Helper()
		for _, w := range not {
			if strings.Contains(body, w) {
				t.Errorf("%s says %q", where, w)
			}
		}
	}
	door := page("/?lang=sl", nil, 200)
	must("the front door", door, "Ptujska kartica", "Koper Card", `href="/t/ptuj?lang=sl"`, `href="/t/koper?lang=sl"`,
		`<li class="town" data-town="ptuj">`, `<li class="town" data-town="koper">`, "Turistične kartice", `href="/towns.css"`)
	must("/towns.css", page("/towns.css", nil, 200), `[data-town="ptuj"] { --town-color: #f2c14e; --town-fg: #1b2733; }`,
		`[data-town="koper"] { --town-color: #0b5cad; --town-fg: #ffffff; }`)
	mustNot("the front door", door, "Gostilna P") // no offers mixed together

	ptuj := page("/t/ptuj?lang=it", nil, 200)
	must("/t/ptuj", ptuj, "<title>Carta di Ptuj</title>", "Carta di Ptuj:", "Gostilna P", "Ptuj 24 ur", `<html lang="it" data-town="ptuj">`,
		`<meta name="theme-color" content="#f2c14e">`)
	mustNot("/t/ptuj", ptuj, "Koper Card", e.merchA.Name, e.merchB.Name)

	host := page("/?lang=sl", map[string]string{"Host": "PTUJ.example:443"}, 200)
	must("ptuj.example/", host, "<title>Ptujska kartica</title>", "Gostilna P")
	mustNot("ptuj.example/", host, "Koper Card")

	missing := page("/t/maribor", nil, 404)
	must("/t/maribor", missing, `href="/t/ptuj?lang=`)
}

// textOn picks the text that reads best on a town's colour.
func TestTextOnColor(t *testing.T) {
	for color, want := range map[string]string{"#0b5cad": "#ffffff", "#000000": "#ffffff", "#ffffff": "#1b2733", "#f2c14e": "#1b2733", "#8a1538": "#ffffff", "#ffff00": "#1b2733"} {
		if got := textOn(color); got != want {
			t.Errorf("text on %s = %s, want %s", color, got, want)
		}
	}
}

// Towns sharing one address (the demo's, or a deployment that gave every town its own URL
// path): the host names none of them, and / lists the towns.
func TestHostSharedByTowns(t *testing.T) {
	e := newTownsEnv(t)
	for _, code := range []string{"koper", "ptuj"} {
		e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/" + code, secret: e.admin, body: `{"public_url":"https://cards.example"}`}, nil)
	}
	resp, body := e.do(secReq{method: "GET", path: "/?lang=sl", header: map[string]string{"Host": "cards.example"}})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="/t/ptuj?lang=sl"`) || !strings.Contains(string(body), `href="/t/koper?lang=sl"`) {
		t.Fatalf("/ at a shared host: %d %.300s", resp.StatusCode, body)
	}
}

package main

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// A town's privacy fields over HTTP (issue 22): empty in the town JSON until set, set with
// PATCH (network admin only), each bad value 400 invalid_request naming the field, with
// nothing changed; {} clears them.
func TestTownPrivacyAPI(t *testing.T) {
	e := newTownsEnv(t)
	type townOut struct {
		Privacy *townPrivacyJSON `json:"privacy"`
	}
	var tw townOut
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/towns/ptuj", secret: e.admin}, &tw)
	if tw.Privacy == nil || *tw.Privacy != (townPrivacyJSON{}) {
		t.Fatalf("ptuj's privacy before it is set: %+v", tw.Privacy)
	}
	set := `{"privacy":{"controller":"Mestna občina Ptuj","address":"Mestni trg 1, 2250 Ptuj","contact":"dpo@ptuj.si"}}`
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin, body: set}, &tw)
	want := townPrivacyJSON{Controller: "Mestna občina Ptuj", Address: "Mestni trg 1, 2250 Ptuj", Contact: "dpo@ptuj.si"}
	if *tw.Privacy != want {
		t.Fatalf("after PATCH: %+v", tw.Privacy)
	}
	long := strings.Repeat("x", 201)
	for _, bad := range []struct{ name, body, field string }{
		{"contact a word", `{"privacy":{"controller":"X","contact":"ptuj"}}`, "privacy.contact"},
		{"contact without a domain", `{"privacy":{"controller":"X","contact":"dpo@localhost"}}`, "privacy.contact"},
		{"contact with a display name", `{"privacy":{"controller":"X","contact":"DPO <dpo@ptuj.si>"}}`, "privacy.contact"},
		{"contact another scheme", `{"privacy":{"controller":"X","contact":"javascript:alert(1)"}}`, "privacy.contact"},
		{"contact a URL with a space", `{"privacy":{"controller":"X","contact":"https://ptuj.si/a b"}}`, "privacy.contact"},
		{"contact missing", `{"privacy":{"controller":"X","address":"Mestni trg 1"}}`, "privacy.contact"},
		{"controller missing", `{"privacy":{"contact":"dpo@ptuj.si"}}`, "privacy.controller"},
		{"controller too long", `{"privacy":{"controller":"` + long + `","contact":"dpo@ptuj.si"}}`, "privacy.controller"},
		{"address too long", `{"privacy":{"controller":"X","address":"` + long + long + `","contact":"dpo@ptuj.si"}}`, "privacy.address"},
		{"controller with a control character", `{"privacy":{"controller":"X\u0007","contact":"dpo@ptuj.si"}}`, "privacy.controller"},
		{"contact too long", `{"privacy":{"controller":"X","contact":"https://ptuj.si/` + long + `"}}`, "privacy.contact"},
	} {
		body := e.call(t, 400, "invalid_request", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin, body: bad.body}, nil)
		if !strings.Contains(string(body), `"field":"`+bad.field+`"`) {
			t.Errorf("%s: %s does not name %s", bad.name, body, bad.field)
		}
	}
	e.call(t, 400, "invalid_request", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin, body: `{"privacy":{"controller":"X","contact":"dpo@ptuj.si","phone":"1"}}`}, nil)
	e.call(t, 403, "forbidden", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.officeP, body: set}, nil)
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/towns/ptuj", secret: e.officeP}, &tw)
	if *tw.Privacy != want {
		t.Fatalf("a refused change was stored: %+v", tw.Privacy)
	}
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin, body: `{"privacy":{"controller":"Mestna občina Ptuj","contact":"https://www.ptuj.si/zasebnost"}}`}, &tw)
	if tw.Privacy.Contact != "https://www.ptuj.si/zasebnost" || tw.Privacy.Address != "" {
		t.Fatalf("a URL contact, no address: %+v", tw.Privacy)
	}
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin, body: `{"privacy":{}}`}, &tw)
	if *tw.Privacy != (townPrivacyJSON{}) {
		t.Fatalf("after clearing: %+v", tw.Privacy)
	}
}

// The privacy notice over HTTP: Ptuj's, unset, names "Občina Ptuj" and the configured
// retention; once set, its controller, address and mailto contact, on every way to it
// (?town=, /t/ptuj/privacy, Ptuj's host); the network's /privacy lists the towns; an
// unknown town is 404 with the list. The card page, the front doors and the till's sign-in
// link to it.
func TestPrivacyNotice(t *testing.T) {
	e := newTownsEnv(t)
	e.s.cfg.RetentionDays, e.s.cfg.AuditAddressDays = 31, 91
	page := func(t *testing.T, path, host, lang string, want int) string {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		if host != "" {
			req.Host = host
		}
		req.Header.Set("Accept-Language", lang)
		resp, err := e.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s: %d, want %d: %.300s", path, resp.StatusCode, want, b)
		}
		return string(b)
	}
	sl := page(t, "/privacy?town=ptuj", "", "sl", 200)
	for _, want := range []string{`lang="sl"`, `data-town="ptuj"`, "Obvestilo o varstvu osebnih podatkov", "Ptuj Card", "Občina Ptuj",
		"31 dni", "91 dneh", "Informacijski pooblaščenec", "https://www.ip-rs.si/", "ugovora obdelavi"} {
		if !strings.Contains(sl, want) {
			t.Errorf("Ptuj's unset notice in Slovene lacks %q", want)
		}
	}
	it := page(t, "/t/ptuj/privacy?lang=it", "", "sl", 200)
	for _, want := range []string{`lang="it"`, "Informativa sulla privacy", "Comune di Ptuj", "31 giorni", "rettifica"} {
		if !strings.Contains(it, want) {
			t.Errorf("Ptuj's notice in Italian lacks %q", want)
		}
	}
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin,
		body: `{"public_url":"https://ptuj.example","privacy":{"controller":"Mestna občina Ptuj","address":"Mestni trg 1, 2250 Ptuj","contact":"dpo@ptuj.si"}}`}, nil)
	for _, way := range []struct{ path, host string }{{"/privacy?town=ptuj", ""}, {"/t/ptuj/privacy", ""}, {"/privacy", "ptuj.example"}} {
		body := page(t, way.path, way.host, "en", 200)
		for _, want := range []string{"Mestna občina Ptuj", "Mestni trg 1, 2250 Ptuj", `href="mailto:dpo@ptuj.si"`, "Privacy notice"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s (host %q) lacks %q", way.path, way.host, want)
			}
		}
		if strings.Contains(body, "municipality of") || strings.Contains(body, "Koper") {
			t.Errorf("%s (host %q) shows the default controller or another town", way.path, way.host)
		}
	}
	list := page(t, "/privacy", "", "de", 200)
	if !strings.Contains(list, `href="/t/ptuj/privacy?lang=de"`) || !strings.Contains(list, `href="/t/koper/privacy?lang=de"`) {
		t.Errorf("the network's /privacy does not list both towns: %.500s", list)
	}
	if body := page(t, "/privacy?town=maribor", "", "en", 404); !strings.Contains(body, `href="/t/ptuj/privacy`) {
		t.Errorf("an unknown town's notice does not list the towns")
	}
	page(t, "/t/maribor/privacy", "", "en", 404)

	// The links: the card page, the town's front door, the network's, the till's sign-in.
	card := page(t, "/c/"+e.card.Token+"?lang=it", "", "", 200)
	if !strings.Contains(card, `id="link-privacy"`) || !strings.Contains(card, `href="/privacy?town=koper&amp;lang=it"`) {
		t.Errorf("the card page does not link to Koper's notice")
	}
	if door := page(t, "/t/ptuj?lang=sl", "", "", 200); !strings.Contains(door, `href="/privacy?town=ptuj&amp;lang=sl"`) {
		t.Errorf("Ptuj's front door does not link to its notice")
	}
	if door := page(t, "/", "", "en", 200); !strings.Contains(door, `href="/privacy?lang=en"`) {
		t.Errorf("the network's front door does not link to the notices")
	}
	if till := page(t, "/pos", "ptuj.example", "", 200); !strings.Contains(till, `id="link-privacy"`) || !strings.Contains(till, `href="/privacy?town=ptuj"`) {
		t.Errorf("Ptuj's till sign-in does not link to Ptuj's notice")
	}
	if till := page(t, "/pos", "", "", 200); !strings.Contains(till, `href="/privacy"`) {
		t.Errorf("the network's till sign-in does not link to the notices")
	}
}

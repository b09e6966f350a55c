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

package main

import (
	"strings"
	"testing"
)

// TestMe: GET /api/v1/me tells the console who signed in, which towns it sees and which town
// it acts in, so that an office never gets the network's tabs or another town's switcher.
func TestMe(t *testing.T) {
	ts := newTestServer(t)
	codes := func(m meJSON) string {
		var out []string
		for _, tw := range m.Towns {
			out = append(out, tw.Code)
		}
		return strings.Join(out, ",")
	}
	town := func(m meJSON) string {
		if m.Town == nil {
			return "<null>"
		}
		return *m.Town
	}

	_, key := ts.mustMerchant("Kavarna Florijan", "bar") // in the only town

	// One town: the network admin acts in it without naming it.
	var me meJSON
	ts.must(200, "GET", "/api/v1/me", "", asAdmin, &me)
	if me.Role != "network" || town(me) != "koper" || codes(me) != "koper" {
		t.Fatalf("single town: %+v", me)
	}

	// Two towns: no town until one is named; every town listed.
	ts.must(201, "POST", "/api/v1/towns", `{"code":"ptuj","name":{"sl":"Ptuj"},"timezone":"Europe/Ljubljana","languages":["sl"],"public_url":"https://ptuj.example"}`, asAdmin, nil)
	ts.must(200, "GET", "/api/v1/me", "", asAdmin, &me)
	if me.Role != "network" || me.Town != nil || codes(me) != "koper,ptuj" {
		t.Fatalf("two towns, none named: %+v", me)
	}
	ts.must(200, "GET", "/api/v1/me", "", asAdmin.with(HeaderTown, "ptuj"), &me)
	if town(me) != "ptuj" || codes(me) != "koper,ptuj" {
		t.Fatalf("two towns, ptuj named: %+v", me)
	}
	if code := ts.must(404, "GET", "/api/v1/me", "", asAdmin.with(HeaderTown, "maribor"), nil).errorCode(t); code != "town_not_found" {
		t.Errorf("unknown town: %s", code)
	}

	// An office: its own town only, whatever it is.
	var tok struct {
		Token string `json:"token"`
	}
	ts.must(201, "POST", "/api/v1/towns/ptuj/tokens", `{"label":"TIC Ptuj"}`, asAdmin, &tok)
	ts.must(200, "GET", "/api/v1/me", "", asKey(tok.Token), &me)
	if me.Role != "office" || town(me) != "ptuj" || codes(me) != "ptuj" || me.Towns[0].PublicURL != "https://ptuj.example" {
		t.Fatalf("office of ptuj: %+v", me)
	}
	ts.must(200, "GET", "/api/v1/me", "", asKey(tok.Token).with(HeaderTown, "ptuj"), &me)
	if code := ts.must(403, "GET", "/api/v1/me", "", asKey(tok.Token).with(HeaderTown, "koper"), nil).errorCode(t); code != "forbidden" {
		t.Errorf("office naming another town: %s", code)
	}

	// A merchant key is not the console's; no token is nobody.
	if code := ts.must(403, "GET", "/api/v1/me", "", asKey(key), nil).errorCode(t); code != "forbidden" {
		t.Errorf("merchant key: %s", code)
	}
	ts.must(401, "GET", "/api/v1/me", "", nil, nil)
}

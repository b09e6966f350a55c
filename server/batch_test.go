package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

type batchAnswer struct {
	Batch batchJSON  `json:"batch"`
	Cards []cardJSON `json:"cards"`
}

type cardList struct {
	Items      []cardJSON `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

type batchList struct {
	Items      []batchJSON `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

func (ts *testServer) mustBatch(product string, count int, name string) batchAnswer {
	ts.t.Helper()
	body := fmt.Sprintf(`{"product":%q,"count":%d,"lang":"it"}`, product, count)
	if name != "" {
		body = fmt.Sprintf(`{"product":%q,"count":%d,"lang":"it","name":%q}`, product, count, name)
	}
	var out batchAnswer
	ts.must(201, "POST", "/api/v1/cards/batch", body, asAdmin, &out)
	return out
}

func TestCardBatchNamed(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	single := ts.mustCard("koper-72h", "", "")
	if single.BatchID != nil {
		t.Fatalf("a single card has batch_id %q, want null", *single.BatchID)
	}
	histria := ts.mustBatch("koper-72h", 3, "  Hotel Histria, June ")
	b := histria.Batch
	if !strings.HasPrefix(b.ID, "bat_") || b.Name != "Hotel Histria, June" || b.Product != "koper-72h" || b.Count != 3 || b.Lang != "it" || b.CreatedAt == "" {
		t.Fatalf("batch %+v", b)
	}
	if len(histria.Cards) != 3 {
		t.Fatalf("%d cards", len(histria.Cards))
	}
	for _, c := range histria.Cards {
		if c.BatchID == nil || *c.BatchID != b.ID {
			t.Fatalf("card %s batch_id %v, want %s", c.ID, c.BatchID, b.ID)
		}
	}
	ts.mustBatch("koper-72h", 1, "Gostišče Čevljar, julij")
	unnamed := ts.mustBatch("koper-72h", 1, "")
	if unnamed.Batch.Name != "" {
		t.Fatalf("unnamed batch named %q", unnamed.Batch.Name)
	}

	var got batchJSON
	ts.must(200, "GET", "/api/v1/batches/"+b.ID, "", asAdmin, &got)
	if got != b {
		t.Fatalf("GET batch %+v, want %+v", got, b)
	}
	wantError(t, ts.do("GET", "/api/v1/batches/bat_nosuchbatch", "", asAdmin), 404, "not_found")

	search := func(q string) []string {
		t.Helper()
		var l batchList
		ts.must(200, "GET", "/api/v1/batches?q="+url.QueryEscape(q), "", asAdmin, &l)
		var names []string
		for _, it := range l.Items {
			names = append(names, it.Name)
		}
		return names
	}
	for q, want := range map[string]string{
		"":         "|Gostišče Čevljar, julij|Hotel Histria, June", // newest first
		"HISTRIA":  "Hotel Histria, June",
		"čEVLJAR":  "Gostišče Čevljar, julij", // case folding beyond ASCII
		"ju":       "Gostišče Čevljar, julij|Hotel Histria, June",
		"%":        "", // no LIKE wildcards
		"nowhere":  "",
		"hotel  h": "",
	} {
		if got := strings.Join(search(q), "|"); got != want {
			t.Errorf("q=%q: %q, want %q", q, got, want)
		}
	}
	var page batchList
	ts.must(200, "GET", "/api/v1/batches?limit=2", "", asAdmin, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page %+v", page)
	}
	wantError(t, ts.do("GET", "/api/v1/batches?q="+strings.Repeat("x", 101), "", asAdmin), 400, "invalid_request")
	wantError(t, ts.do("GET", "/api/v1/batches", "", asKey("ccm_nobody")), 401, "unauthorized")

	for _, body := range []string{
		`{"product":"koper-72h","count":1,"name":""}`,
		`{"product":"koper-72h","count":1,"name":"   "}`,
		`{"product":"koper-72h","count":1,"name":"` + strings.Repeat("n", 101) + `"}`,
		`{"product":"koper-72h","count":1,"name":"Hotel\u0000Histria"}`,
		`{"product":"koper-72h","count":1,"name":7}`,
		`{"product":"koper-72h","count":1,"lang":"fr"}`,
	} {
		wantError(t, ts.do("POST", "/api/v1/cards/batch", body, asAdmin), 400, "invalid_request")
	}
	wantError(t, ts.do("POST", "/api/v1/cards/batch", `{"product":"nope","count":1,"name":"x"}`, asAdmin), 404, "product_not_found")
	ts.must(201, "POST", "/api/v1/cards/batch", `{"product":"koper-72h","count":1,"name":"`+strings.Repeat("ž", 100)+`"}`, asAdmin, nil)
}

func TestCardListFilters(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	ts.mustProduct("koper-24h", 24, "tourist")
	a := ts.mustBatch("koper-72h", 3, "Hotel Histria")
	bb := ts.mustBatch("koper-24h", 2, "Hotel Koper")
	single := ts.mustCard("koper-72h", "Ana", "sl")

	list := func(query string) []string {
		t.Helper()
		var l cardList
		ts.must(200, "GET", "/api/v1/cards?"+query, "", asAdmin, &l)
		var ids []string
		for _, c := range l.Items {
			ids = append(ids, c.ID)
		}
		return ids
	}
	ids := func(cs ...cardJSON) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	n := single.Number
	spaced := n[:4] + " " + n[4:8] + " " + n[8:]
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"number=" + n, ids(single)},
		{"number=" + url.QueryEscape(spaced), ids(single)},
		{"number=" + url.QueryEscape(n[:4]+"-"+n[4:]), ids(single)},
		{"number=" + a.Cards[1].Number, ids(a.Cards[1])},
		{"number=" + unusedNumber(t, ts), nil},
		{"batch=" + a.Batch.ID, ids(a.Cards[2], a.Cards[1], a.Cards[0])},
		{"batch=" + bb.Batch.ID + "&product=koper-24h", ids(bb.Cards[1], bb.Cards[0])},
		{"batch=" + bb.Batch.ID + "&product=koper-72h", nil},
		{"batch=" + a.Batch.ID + "&number=" + a.Cards[0].Number, ids(a.Cards[0])},
		{"batch=" + bb.Batch.ID + "&number=" + a.Cards[0].Number, nil},
		{"batch=bat_unknown", nil},
		{"product=koper-24h", ids(bb.Cards[1], bb.Cards[0])},
	} {
		if got := list(tc.query); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	if got := list(""); len(got) != 6 {
		t.Errorf("no filter: %d cards, want 6", len(got))
	}
	bad := n[:11] + string('0'+(n[11]-'0'+1)%10)
	for _, q := range []string{bad, "12345", n + "0", "abcdabcdabcd", url.QueryEscape(n[:4] + "/" + n[4:])} {
		wantError(t, ts.do("GET", "/api/v1/cards?number="+q, "", asAdmin), 400, "invalid_request")
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// discountCase is one row of testdata/discount_cases.json, the table of discount arithmetic
// that the server (this test) and the till's offline quotes (static/discount.js, in
// TestBrowserDiscountCases) must both reproduce exactly. Money and percentages are strings as
// in the API; Error is the error code when the amount is refused.
type discountCase struct {
	Kind           string  `json:"kind"`
	Value          *string `json:"value"`
	MaxDiscount    *string `json:"max_discount"`
	MinAmount      *string `json:"min_amount"`
	Share          string  `json:"share"`
	Amount         string  `json:"amount"`
	Discount       *string `json:"discount"`
	Total          *string `json:"total"`
	MunicipalShare *string `json:"municipal_share"`
	Error          *string `json:"error"`
}

func loadDiscountCases(t *testing.T) []discountCase {
	t.Helper()
	b, err := os.ReadFile("testdata/discount_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []discountCase
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 40 {
		t.Fatalf("only %d discount cases", len(cases))
	}
	return cases
}

// TestDiscountCases runs every case through the API's offer decoding and merchant.QuoteFor,
// the code a redemption goes through.
func TestDiscountCases(t *testing.T) {
	now := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	c := card.Card{ID: "c", Product: "P", IssuedAt: now.Add(-time.Hour), ActivateBy: now.Add(24 * time.Hour)}
	kinds := map[string]bool{}
	for i, tc := range loadDiscountCases(t) {
		kinds[tc.Kind] = true
		share := tc.Share
		req := offerRequest{Title: map[string]string{"en": "Case"}, Kind: tc.Kind, Value: tc.Value, MaxDiscount: tc.MaxDiscount,
			MinAmount: tc.MinAmount, Limit: merchant.LimitUnlimited, MunicipalShare: &share}
		o := merchant.Offer{ID: "o", Active: true}
		if err := req.apply(&o); err != nil {
			t.Fatalf("case %d: offer: %v", i, err)
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("case %d: offer: %v", i, err)
		}
		amount, err := parseMoney("amount", tc.Amount)
		if err != nil {
			t.Fatalf("case %d: amount: %v", i, err)
		}
		q, err := merchant.QuoteFor(c, o, nil, amount, now, time.UTC)
		if tc.Error != nil {
			if *tc.Error != "amount_too_low" || !errors.Is(err, merchant.ErrAmountTooLow) {
				t.Errorf("case %d %+v: got %+v, %v; want error %s", i, tc, q, err, *tc.Error)
			}
			continue
		}
		if err != nil || tc.Discount == nil || tc.Total == nil || tc.MunicipalShare == nil {
			t.Errorf("case %d %+v: got error %v", i, tc, err)
			continue
		}
		got := [3]string{formatMoney(q.Discount), formatMoney(q.Total), formatMoney(q.MunicipalShare)}
		want := [3]string{*tc.Discount, *tc.Total, *tc.MunicipalShare}
		if got != want {
			t.Errorf("case %d %+v: got discount, total, share %v, want %v", i, tc, got, want)
		}
		if q.Discount+q.Total != amount {
			t.Errorf("case %d: discount + total != amount", i)
		}
	}
	for _, k := range []string{merchant.KindPercent, merchant.KindAmount, merchant.KindFree, merchant.KindPrice} {
		if !kinds[k] {
			t.Errorf("no case of kind %s", k)
		}
	}
}

// TestBrowserDiscountCases loads the till's static/discount.js in Chromium and runs every case
// of testdata/discount_cases.json through window.citycardDiscount: the till's offline quotes
// must equal the server's to the cent.
func TestBrowserDiscountCases(t *testing.T) {
	cases := loadDiscountCases(t)
	a := startLiveApp(t)
	ctx := newTab(t, newBrowser(t))
	do(t, ctx, chromedp.Navigate(a.URL+"/pos"))
	// Loaded by hand, so the test holds whether or not the page already includes it.
	eval[bool](t, ctx, `new Promise((ok, fail) => { const s = document.createElement("script");
		s.src = "/static/discount.js"; s.onload = () => ok(true); s.onerror = fail; document.head.appendChild(s); })`)
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	out := eval[string](t, ctx, `JSON.stringify(`+string(in)+`.map(c => window.citycardDiscount(
		{kind: c.kind, value: c.value, max_discount: c.max_discount, min_amount: c.min_amount, municipal_share: c.share}, c.amount)))`)
	var got []struct {
		Discount       *string `json:"discount"`
		Total          *string `json:"total"`
		MunicipalShare *string `json:"municipal_share"`
		Error          *string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != len(cases) {
		t.Fatalf("citycardDiscount gave %s (%v)", out, err)
	}
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	for i, tc := range cases {
		g, w := got[i], [4]string{str(tc.Discount), str(tc.Total), str(tc.MunicipalShare), str(tc.Error)}
		if [4]string{str(g.Discount), str(g.Total), str(g.MunicipalShare), str(g.Error)} != w {
			t.Errorf("case %d %+v: browser gave discount, total, share, error %s, %s, %s, %s; want %v",
				i, tc, str(g.Discount), str(g.Total), str(g.MunicipalShare), str(g.Error), w)
		}
	}
	// Input the server refuses with 400 is refused in the browser too, never quoted.
	bad := eval[string](t, ctx, `JSON.stringify([
		["10", "1.234"], ["10", "-1.00"], ["10", "1000000.01"], ["10", "12,50"], ["10", ""], ["101", "10.00"], ["0", "10.00"]
	].map(([v, a]) => window.citycardDiscount({kind: "percent", value: v, municipal_share: "0"}, a).error))`)
	if want := `["invalid_amount","invalid_amount","invalid_amount","invalid_amount","invalid_amount","invalid_offer","invalid_offer"]`; bad != want {
		t.Errorf("bad input gave %s, want %s", bad, want)
	}
}

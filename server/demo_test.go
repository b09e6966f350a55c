package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestSeedDemo(t *testing.T) {
	// The demo places its redemptions days before "now": it must load whatever the date,
	// including when they straddle a change of the clocks.
	for _, now := range []time.Time{
		testNow,
		time.Date(2026, 11, 1, 12, 0, 0, 0, testLoc), // the week before holds the October change
		time.Date(2027, 4, 2, 8, 0, 0, 0, testLoc),   // the March change
		time.Date(2026, 7, 15, 23, 59, 0, 0, testLoc),
	} {
		t.Run(now.Format("2006-01-02"), func(t *testing.T) {
			ts := newTestServer(t)
			ts.clock.Set(now)
			res, err := seedDemo(context.Background(), ts.db, ts.s.keys, "koper", ts.s.cardURL, now)
			if err != nil {
				t.Fatalf("seedDemo: %v", err)
			}
			ts.db.SetClock(ts.clock.Now) // seedDemo leaves the real clock behind

			count := func(path string) int {
				var l listBody[map[string]any]
				ts.must(200, "GET", path+"?limit=500", "", asAdmin, &l)
				return len(l.Items)
			}
			for path, want := range map[string]int{"/api/v1/products": 3, "/api/v1/merchants": 12, "/api/v1/offers": 22, "/api/v1/cards": 6, "/api/v1/redemptions": 22} {
				if got := count(path); got != want {
					t.Errorf("%s: %d, want %d", path, got, want)
				}
			}
			var reds listBody[redemptionJSON]
			ts.must(200, "GET", "/api/v1/redemptions?limit=500", "", asAdmin, &reds)
			voided := 0
			for _, r := range reds.Items {
				if r.Status == "voided" {
					voided++
				}
			}
			if voided != 2 {
				t.Errorf("%d voided redemptions, want 2", voided)
			}
			// What the demo prints works.
			if res.MerchantKey == "" || !strings.HasPrefix(res.CardURL, testPublicURL+"/c/") {
				t.Fatalf("demo result %+v", res)
			}
			ts.must(200, "GET", "/api/v1/pos/me", "", asKey(res.MerchantKey), nil)
			ts.must(200, "GET", strings.TrimPrefix(res.CardURL, testPublicURL), "", nil, nil)
			var c map[string]any
			ts.must(200, "POST", "/api/v1/pos/check", `{"card":"`+res.CardURL+`"}`, asKey(res.MerchantKey), &c)
		})
	}
}

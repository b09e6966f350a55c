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
			res, err := seedDemo(context.Background(), ts.db, ts.s.keys, testPublicURL, ts.s.cardURL, now)
			if err != nil {
				t.Fatalf("seedDemo: %v", err)
			}
			ts.db.SetClock(ts.clock.Now) // seedDemo leaves the real clock behind

			// Two towns: Koper in Slovene and Italian, Ptuj in Slovene.
			var me meJSON
			ts.must(200, "GET", "/api/v1/me", "", asAdmin, &me)
			if me.Role != "network" || me.Town != nil || len(me.Towns) != 2 {
				t.Fatalf("/me of the network admin: %+v", me)
			}
			langs := map[string]string{}
			for _, tw := range me.Towns {
				langs[tw.Code] = strings.Join(tw.Languages, ",")
			}
			if langs["koper"] != "sl,it" || langs["ptuj"] != "sl" {
				t.Errorf("town languages %v, want koper sl,it and ptuj sl", langs)
			}

			count := func(town, path string) int {
				var l listBody[map[string]any]
				ts.must(200, "GET", path+"?limit=500", "", asAdmin.with(HeaderTown, town), &l)
				return len(l.Items)
			}
			// Koper: its 3 products and the network's; its 6 cards, 2 network cards and the 12 its
			// two sales points issued; its 22 redemptions and the network cards' 5 at its
			// merchants. Ptuj likewise, without sales points.
			for _, tc := range []struct {
				town string
				want map[string]int
			}{
				{"koper", map[string]int{"/api/v1/products": 4, "/api/v1/merchants": 12, "/api/v1/offers": 22, "/api/v1/cards": 20, "/api/v1/redemptions": 27, "/api/v1/sales-points": 2}},
				{"ptuj", map[string]int{"/api/v1/products": 2, "/api/v1/merchants": 7, "/api/v1/offers": 8, "/api/v1/cards": 4, "/api/v1/redemptions": 14, "/api/v1/sales-points": 0}},
			} {
				for path, want := range tc.want {
					if got := count(tc.town, path); got != want {
						t.Errorf("%s %s: %d, want %d", tc.town, path, got, want)
					}
				}
			}
			// Every redemption at a town's merchants is the town's, cards of both towns among them.
			issuers := map[string]map[string]int{}
			for _, town := range []string{"koper", "ptuj"} {
				var reds listBody[redemptionJSON]
				ts.must(200, "GET", "/api/v1/redemptions?limit=500", "", asAdmin.with(HeaderTown, town), &reds)
				issuers[town] = map[string]int{}
				for _, r := range reds.Items {
					if r.Town != town {
						t.Errorf("%s lists a redemption of %s", town, r.Town)
					}
					issuers[town][r.CardTown]++
				}
			}
			if issuers["koper"]["ptuj"] != 3 || issuers["ptuj"]["koper"] != 3 || issuers["koper"]["koper"] != 24 || issuers["ptuj"]["ptuj"] != 11 {
				t.Errorf("redemptions by (acceptor, issuer): %v", issuers)
			}

			// Each town's ledger verifies.
			for _, town := range []string{"koper", "ptuj"} {
				chk, err := ts.db.VerifyLedger(context.Background(), town)
				if err != nil || !chk.OK || chk.Entries == 0 {
					t.Errorf("%s's ledger: %+v, %v", town, chk, err)
				}
			}

			// The network report of each month the demo touches adds up, and each town's
			// figures equal its own report's.
			for _, m := range demoMonths(now) {
				checkNetworkReport(t, ts, m)
			}

			// What the demo prints works: an office token per town, which sees its town only;
			// a merchant key per town; an unused card of each town and a network card.
			if len(res.Towns) != 2 || res.NetworkCardURL == "" {
				t.Fatalf("demo result %+v", res)
			}
			for _, tr := range res.Towns {
				var m meJSON
				ts.must(200, "GET", "/api/v1/me", "", asKey(tr.OfficeToken), &m)
				if m.Role != "office" || m.Town == nil || *m.Town != tr.Code || len(m.Towns) != 1 {
					t.Errorf("office token of %s: /me %+v", tr.Code, m)
				}
				var ms listBody[merchantJSON]
				ts.must(200, "GET", "/api/v1/merchants?limit=500", "", asKey(tr.OfficeToken), &ms)
				for _, x := range ms.Items {
					if x.Town != tr.Code {
						t.Errorf("office of %s lists merchant %s of %s", tr.Code, x.Name, x.Town)
					}
				}
				ts.must(200, "GET", "/api/v1/pos/me", "", asKey(tr.MerchantKey), nil)
				if !strings.HasPrefix(tr.CardURL, testPublicURL+"/c/") {
					t.Fatalf("card URL of %s: %q", tr.Code, tr.CardURL)
				}
				ts.must(200, "GET", strings.TrimPrefix(tr.CardURL, testPublicURL), "", nil, nil)
				// The network card is accepted at both towns' tills.
				var chk struct {
					Offers []struct {
						Available bool   `json:"available"`
						Reason    string `json:"reason"`
					} `json:"offers"`
				}
				ts.must(200, "POST", "/api/v1/pos/check", `{"card":"`+res.NetworkCardURL+`"}`, asKey(tr.MerchantKey), &chk)
				for _, o := range chk.Offers {
					if o.Reason == "card_not_accepted" {
						t.Errorf("the network card is not accepted in %s", tr.Code)
					}
				}
			}
			// Koper's first sales point signs in with the secret the demo prints; its statements
			// of the months the demo touches add up.
			if !strings.HasPrefix(res.Towns[0].SalesPointToken, "ccs_") || res.Towns[0].SalesPointName != "Hotel Histria" || res.Towns[1].SalesPointToken != "" {
				t.Fatalf("demo sales points %+v", res.Towns)
			}
			ts.must(200, "GET", "/api/v1/sales/me", "", asKey(res.Towns[0].SalesPointToken), nil)
			var sold, cancelled int
			for _, m := range demoMonths(now) {
				var st salesStatements
				ts.must(200, "GET", "/api/v1/reports/sales-statements?month="+m, "", asAdmin.with(HeaderTown, "koper"), &st)
				sold, cancelled = sold+st.Totals.Cards, cancelled+st.Totals.Cancelled
			}
			if sold != 10 || cancelled != 2 {
				t.Errorf("the demo's sales: %d cards billed and %d cancelled, want 10 and 2", sold, cancelled)
			}
			if res.MerchantKey != res.Towns[0].MerchantKey || res.CardURL != res.Towns[0].CardURL {
				t.Error("the top-level merchant and card are not the first town's")
			}
		})
	}
}

// demoMonths are the months of the demo's redemptions: now's and the one before.
func demoMonths(now time.Time) []string {
	l := now.In(testLoc)
	first := time.Date(l.Year(), l.Month(), 1, 12, 0, 0, 0, testLoc)
	return []string{first.AddDate(0, -1, 0).Format("2006-01"), first.Format("2006-01")}
}

// checkNetworkReport checks the network report of month against the towns' own reports: each
// town's totals equal its report's, each clearing row (issuer, acceptor) equals the acceptor's
// issuers row, and the totals are the sums of the towns and of the clearing rows, to the cent.
func checkNetworkReport(t *testing.T, ts *testServer, month string) {
	t.Helper()
	type counters struct {
		Redemptions    int64  `json:"redemptions"`
		CardsUsed      int64  `json:"cards_used"`
		Amount         string `json:"amount"`
		Discount       string `json:"discount"`
		MunicipalShare string `json:"municipal_share"`
	}
	var net struct {
		Towns []struct {
			Town   string   `json:"town"`
			Totals counters `json:"totals"`
		} `json:"towns"`
		Clearing []struct {
			Issuer   string `json:"issuer"`
			Acceptor string `json:"acceptor"`
			counters
		} `json:"clearing"`
		Totals counters `json:"totals"`
	}
	ts.must(200, "GET", "/api/v1/reports/network?month="+month, "", asAdmin, &net)
	cents := func(s string) int64 {
		c, err := parseMoney("amount", s)
		if err != nil {
			t.Fatalf("%s: amount %q: %v", month, s, err)
		}
		return c
	}
	type sums struct{ n, amount, discount, share int64 }
	add := func(s *sums, c counters) {
		s.n += c.Redemptions
		s.amount += cents(c.Amount)
		s.discount += cents(c.Discount)
		s.share += cents(c.MunicipalShare)
	}
	var byTowns, byClearing sums
	if len(net.Towns) != 2 {
		t.Fatalf("%s: the network report has %d towns, want 2", month, len(net.Towns))
	}
	for _, tw := range net.Towns {
		add(&byTowns, tw.Totals)
		var own struct {
			Totals  counters `json:"totals"`
			Issuers []struct {
				Town string `json:"town"`
				counters
			} `json:"issuers"`
		}
		ts.must(200, "GET", "/api/v1/reports/monthly?month="+month, "", asAdmin.with(HeaderTown, tw.Town), &own)
		if tw.Totals != own.Totals {
			t.Errorf("%s %s: network report %+v, town report %+v", month, tw.Town, tw.Totals, own.Totals)
		}
		for _, is := range own.Issuers {
			found := false
			for _, c := range net.Clearing {
				if c.Issuer == is.Town && c.Acceptor == tw.Town {
					found = true
					if c.counters != is.counters {
						t.Errorf("%s clearing %s→%s %+v, %s's issuers row %+v", month, is.Town, tw.Town, c.counters, tw.Town, is.counters)
					}
				}
			}
			if !found && is.Redemptions > 0 {
				t.Errorf("%s: no clearing row %s→%s", month, is.Town, tw.Town)
			}
		}
	}
	for _, c := range net.Clearing {
		add(&byClearing, c.counters)
	}
	var total sums
	add(&total, net.Totals)
	if byTowns != total || byClearing != total {
		t.Errorf("%s: totals %+v, towns add up to %+v, clearing to %+v", month, total, byTowns, byClearing)
	}
}

package merchant

import (
	"reflect"
	"testing"
	"time"
)

// townReport is a town's report with the given issuer lines, its totals their sums (cards
// used: cards, the town's distinct cards).
func townReport(cards int, issuers ...IssuerLine) Report {
	r := Report{Issuers: issuers}
	for _, l := range issuers {
		r.Totals.Counters.add(l.Counters)
	}
	r.Totals.CardsUsed = cards
	return r
}

func TestBuildNetworkReport(t *testing.T) {
	m, _ := ParseMonth("2026-10")
	c := func(n, cards int, amount, discount, share int64) Counters {
		return Counters{Redemptions: n, CardsUsed: cards, Amount: amount, Discount: discount, MunicipalShare: share}
	}
	koper := townReport(5,
		IssuerLine{"koper", c(4, 3, 4000, 400, 201)},
		IssuerLine{"ptuj", c(2, 2, 1999, 333, 167)})
	koper.Totals.Voided, koper.Totals.CardsIssued, koper.Totals.CardsActivated = 1, 7, 4
	ptuj := townReport(2,
		IssuerLine{"koper", c(1, 1, 1001, 101, 51)},
		IssuerLine{"ptuj", c(1, 1, 500, 50, 25)},
		// Only an adjustment of a card Kranj issued: no redemption, negative money.
		IssuerLine{"kranj", c(0, 0, -700, -70, -35)})
	ptuj.Totals.CardsIssued = 3
	// Closed before the network of towns: no issuer lines, the whole month is Kranj's.
	kranj := Report{Totals: Totals{Counters: c(3, 2, 900, 90, 45), CardsIssued: 2}}
	empty := Report{Issuers: []IssuerLine{}}
	emptyOld := Report{}

	for _, tc := range []struct {
		name     string
		towns    []TownReport
		clearing []ClearingLine
		totals   Totals
	}{
		{"no towns", nil, []ClearingLine{}, Totals{}},
		{"one town, nothing redeemed", []TownReport{{Town: "koper", Report: empty}, {Town: "piran", Closed: true, Report: emptyOld}},
			[]ClearingLine{}, Totals{}},
		{"three towns", []TownReport{{Town: "ptuj", Report: ptuj}, {Town: "koper", Report: koper}, {Town: "kranj", Closed: true, Report: kranj}},
			[]ClearingLine{
				{"koper", "koper", c(4, 3, 4000, 400, 201)},
				{"koper", "ptuj", c(1, 1, 1001, 101, 51)},
				{"kranj", "kranj", c(3, 2, 900, 90, 45)},
				{"kranj", "ptuj", c(0, 0, -700, -70, -35)},
				{"ptuj", "koper", c(2, 2, 1999, 333, 167)},
				{"ptuj", "ptuj", c(1, 1, 500, 50, 25)},
			},
			Totals{Counters: c(11, 9, 7700, 904, 454), Voided: 1, CardsIssued: 12, CardsActivated: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := BuildNetworkReport(m, tc.towns)
			if n.Month != m {
				t.Fatalf("month %v", n.Month)
			}
			if !reflect.DeepEqual(n.Clearing, tc.clearing) {
				t.Fatalf("clearing = %+v\nwant %+v", n.Clearing, tc.clearing)
			}
			if n.Totals != tc.totals {
				t.Fatalf("totals = %+v, want %+v", n.Totals, tc.totals)
			}
			// Each town's figures are its own report's, in town order.
			if len(n.Towns) != len(tc.towns) {
				t.Fatalf("%d towns, want %d", len(n.Towns), len(tc.towns))
			}
			byTown := map[string]TownReport{}
			for _, tr := range tc.towns {
				byTown[tr.Town] = tr
			}
			var sum Totals
			for i, tt := range n.Towns {
				if i > 0 && n.Towns[i-1].Town >= tt.Town {
					t.Fatalf("towns out of order: %+v", n.Towns)
				}
				if tr := byTown[tt.Town]; tt.Totals != tr.Report.Totals || tt.Closed != tr.Closed {
					t.Fatalf("%s: %+v, its report says %+v", tt.Town, tt, tr.Report.Totals)
				}
				sum.Counters.add(tt.Totals.Counters)
				sum.CardsUsed += tt.Totals.CardsUsed
				sum.Voided += tt.Totals.Voided
				sum.CardsIssued += tt.Totals.CardsIssued
				sum.CardsActivated += tt.Totals.CardsActivated
			}
			if sum != n.Totals {
				t.Fatalf("towns sum to %+v, totals %+v", sum, n.Totals)
			}
			// The clearing lines add up to the totals, and by acceptor to each town's totals.
			var cl Counters
			for _, l := range n.Clearing {
				cl.add(l.Counters)
				cl.CardsUsed += l.CardsUsed
			}
			if cl != n.Totals.Counters {
				t.Fatalf("clearing sums to %+v, totals %+v", cl, n.Totals.Counters)
			}
			_, byAcceptor := n.ClearingSums()
			for _, tt := range n.Towns {
				if got := byAcceptor[tt.Town]; got != tt.Totals.Counters {
					t.Fatalf("%s: clearing as acceptor %+v, its totals %+v", tt.Town, got, tt.Totals.Counters)
				}
			}
		})
	}
}

// A card used in two towns counts once in each town's cards_used, so twice in the network's.
func TestNetworkCardsUsedCountPerTown(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Ljubljana")
	m, _ := ParseMonth("2026-10")
	start, _ := m.Range(loc)
	row := func(merchant, cardTown, card string) ReportRow {
		return ReportRow{MerchantID: merchant, Category: "bar", Product: "net", CardID: card, CreatedAt: start.Add(time.Hour),
			Amount: 1000, Discount: 100, MunicipalShare: 50, CardTown: cardTown}
	}
	koper := BuildReport(m, loc, []ReportRow{row("k1", "koper", "c1"), row("k2", "koper", "c1"), row("k1", "ptuj", "c2")}, 0, 0)
	ptuj := BuildReport(m, loc, []ReportRow{row("p1", "koper", "c1")}, 0, 0)
	n := BuildNetworkReport(m, []TownReport{{Town: "koper", Report: koper}, {Town: "ptuj", Report: ptuj}})
	if got := []int{koper.Totals.CardsUsed, ptuj.Totals.CardsUsed, n.Totals.CardsUsed}; !reflect.DeepEqual(got, []int{2, 1, 3}) {
		t.Fatalf("cards used koper, ptuj, network = %v, want [2 1 3]", got)
	}
	byIssuer, _ := n.ClearingSums()
	if got := byIssuer["koper"]; got.CardsUsed != 2 || got.Redemptions != 3 || got.MunicipalShare != 150 {
		t.Fatalf("Koper's cards in the network: %+v", got)
	}
}

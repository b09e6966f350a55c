package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/storagetest"
)

// packCity is a city with a 72-hour product and, at its first merchant, a once offer and a
// daily offer (see mustPackCity).
type packCity struct {
	*city
	once, daily merchant.Offer
	short       []card.Card // cards of the 72-hour product
}

func mustPackCity(tb testing.TB) *packCity {
	tb.Helper()
	c := mustCity(tb, storagetest.DSN(tb), testLoc)
	ctx := context.Background()
	p := card.Product{Town: "koper", Code: "koper-72h", Name: map[string]string{"en": "72 h"}, ValidityHours: 72, PriceCents: 2500, Audience: "tourist"}
	if err := c.db.CreateProduct(ctx, &p); err != nil {
		tb.Fatal(err)
	}
	pc := &packCity{city: c}
	for _, o := range []*merchant.Offer{&pc.once, &pc.daily} {
		o.MerchantID, o.Title, o.Kind, o.Value, o.MunicipalShare, o.Active = c.offers[0].MerchantID, map[string]string{"en": "offer"}, merchant.KindPercent, 1000, 5000, true
		o.Limit = merchant.LimitOnce
		if o == &pc.daily {
			o.Limit = merchant.LimitDaily
		}
		if err := c.db.CreateOffer(ctx, "koper", o); err != nil {
			tb.Fatal(err)
		}
	}
	var err error
	if pc.short, err = c.db.CreateCards(ctx, "koper", c.kr, "koper-72h", 4, "", ""); err != nil {
		tb.Fatal(err)
	}
	return pc
}

func TestOfflineUsedHoldsWhatCanMatter(t *testing.T) {
	// A till uses the pack to refuse a second once-use or a second daily use today. A card
	// that has expired cannot be redeemed validly anyway (a conflict catches it), so its uses
	// are left out: the list no longer grows with every use ever made.
	c := mustPackCity(t)
	ctx := context.Background()
	expired := c.redeem(t, time.Date(2026, 10, 1, 10, 0, 0, 0, testLoc), c.once, c.short[0], 1000) // expires 4 October
	live := c.redeem(t, time.Date(2026, 10, 4, 10, 0, 0, 0, testLoc), c.once, c.short[1], 1000)
	year := c.redeem(t, time.Date(2026, 9, 2, 10, 0, 0, 0, testLoc), c.once, c.cards[0], 1000) // a year's card
	voided := c.redeem(t, time.Date(2026, 10, 4, 11, 0, 0, 0, testLoc), c.once, c.short[2], 1000)
	c.void(t, time.Date(2026, 10, 4, 11, 1, 0, 0, testLoc), voided.ID)
	c.redeem(t, time.Date(2026, 10, 4, 12, 0, 0, 0, testLoc), c.daily, c.cards[1], 1000) // yesterday's
	today := c.redeem(t, time.Date(2026, 10, 5, 9, 0, 0, 0, testLoc), c.daily, c.short[1], 1000)
	now := time.Date(2026, 10, 5, 12, 0, 0, 0, testLoc)
	c.clock.Set(now)

	_, used, err := c.db.OfflinePack(ctx, c.once.MerchantID, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []OfflineUse{
		{live.CardNumber, c.once.ID, "2026-10-04"},
		{year.CardNumber, c.once.ID, "2026-09-02"},
		{today.CardNumber, c.daily.ID, "2026-10-05"},
	}
	if !slices.Equal(used, want) {
		t.Fatalf("used = %+v\nwant %+v (not the once-use of %s, whose card expired on 4 October)", used, want, expired.CardNumber)
	}
	// Until the 72-hour card expires, its use stays.
	if _, used, err := c.db.OfflinePack(ctx, c.once.MerchantID, time.Date(2026, 10, 4, 9, 0, 0, 0, testLoc)); err != nil || !slices.Contains(used, OfflineUse{expired.CardNumber, c.once.ID, "2026-10-01"}) {
		t.Fatalf("before its card expired: used = %+v, %v, want the once-use of %s", used, err, expired.CardNumber)
	}
}

func TestOfflineUsedVersion(t *testing.T) {
	// The version of the list changes with every use and void of the merchant's town and with
	// the local day, and with nothing else the list depends on: same version, same list.
	c := mustPackCity(t)
	ctx := context.Background()
	r := c.redeem(t, time.Date(2026, 10, 4, 10, 0, 0, 0, testLoc), c.once, c.short[0], 1000)
	mid := c.once.MerchantID
	at := time.Date(2026, 10, 4, 12, 0, 0, 0, testLoc)
	v1, err := c.db.OfflineUsedVersion(ctx, mid, at)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.db.OfflineUsedVersion(ctx, mid, at.Add(time.Hour)); v != v1 {
		t.Fatalf("an hour later, nothing written: version %s, was %s", v, v1)
	}
	steps := []struct {
		name  string
		write func()
		at    time.Time
	}{
		{"a once-use", func() { c.redeem(t, at, c.once, c.short[1], 1000) }, at},
		{"a void", func() { c.void(t, at, r.ID) }, at},
		{"the next day", func() {}, time.Date(2026, 10, 5, 0, 1, 0, 0, testLoc)},
	}
	seen := map[string]bool{v1: true}
	for _, s := range steps {
		s.write()
		v, err := c.db.OfflineUsedVersion(ctx, mid, s.at)
		if err != nil {
			t.Fatal(err)
		}
		if seen[v] {
			t.Fatalf("after %s: version %s, seen before", s.name, v)
		}
		seen[v] = true
	}
}

// BenchmarkOfflinePack20k measures the offline pack of a merchant whose once offer has
// been used 20 000 times over a year, by cards of 72 hours (most of them long expired):
//
//	go test ./storage -run '^$' -bench OfflinePack20k
//
// used: the list a till downloads (used-bytes is its JSON); version: what a poll answered
// 304 reads (OfflineUsedVersion and the blocked cards), without the list.
func BenchmarkOfflinePack20k(b *testing.B) {
	c := mustPackCity(b)
	const n = 20000
	end := time.Date(2026, 10, 5, 12, 0, 0, 0, testLoc)
	start := end.AddDate(-1, 0, 0)
	step := end.Sub(start).Milliseconds() / n
	raw := storagetest.Open(b, c.path)
	raw.MustExec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < `+strconv.Itoa(n)+`)
		INSERT INTO cards (id, number, token, product_code, issued_at, activate_by, activated_at, expires_at, town)
		SELECT 'crd_b' || CAST(i AS TEXT), CAST(100000000000 + i AS TEXT), 'tok_b' || CAST(i AS TEXT), 'koper-72h',
			CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT) + i * CAST(? AS BIGINT), CAST(? AS BIGINT) + i * CAST(? AS BIGINT), 'koper' FROM n`,
		ms(start), ms(end), ms(start), step, ms(start.Add(72*time.Hour)), step)
	raw.MustExec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < `+strconv.Itoa(n)+`)
		INSERT INTO redemptions (id, town, card_town, card_id, card_number, merchant_id, offer_id, product_code, category,
			amount_cents, discount_cents, share_cents, limit_key, created_at)
		SELECT 'red_b' || CAST(i AS TEXT), 'koper', 'koper', 'crd_b' || CAST(i AS TEXT), CAST(100000000000 + i AS TEXT), ?, ?, 'koper-72h', 'shop',
			1000, 100, 50, 'once:' || ? || ':crd_b' || CAST(i AS TEXT), CAST(? AS BIGINT) + i * CAST(? AS BIGINT) FROM n`,
		c.once.MerchantID, c.once.ID, c.once.ID, ms(start), step)
	ctx := context.Background()
	c.clock.Set(end)
	b.Run("used", func(b *testing.B) {
		var size int
		for b.Loop() {
			_, used, err := c.db.OfflinePack(ctx, c.once.MerchantID, end)
			if err != nil {
				b.Fatal(err)
			}
			j, _ := json.Marshal(used)
			size = len(j)
		}
		b.ReportMetric(float64(size), "used-bytes")
	})
	b.Run("version", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.db.OfflineUsedVersion(ctx, c.once.MerchantID, end); err != nil {
				b.Fatal(err)
			}
			if _, err := c.db.OfflineBlocked(ctx, end); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A till offline over midnight: a sale of 31 October 21:00 synced after October closed is
// completed and booked in November, the month it was recorded in (October stays as frozen);
// voiding it takes it out of November again, to zero, never below. A later void, after
// November closed too, is an adjustment of December. verify is ok all along, and catches an
// edit of the late sale's recorded_at. (Observation 3 of issue 17.)
func TestLateOfflineSaleIsBookedInTheMonthItIsRecorded(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	ctx := context.Background()
	a := newAcked()
	oct, nov, dec := mustMonth("2026-10"), mustMonth("2026-11"), mustMonth("2026-12")
	a.sale(c.redeem(t, time.Date(2026, 10, 20, 10, 0, 0, 0, testLoc), c.offers[0], c.cards[0], 3000))
	c.clock.Set(time.Date(2026, 11, 1, 9, 0, 0, 0, testLoc))
	closed, err := c.db.CloseMonth(ctx, "koper", oct, jsonReport)
	if err != nil {
		t.Fatal(err)
	}

	c.clock.Set(time.Date(2026, 11, 1, 10, 0, 0, 0, testLoc))
	late, err := offlineSale(c.db, c.offers[1], c.cards[1], 2000, time.Date(2026, 10, 31, 21, 0, 0, 0, testLoc))
	if err != nil || late.ConflictReason != "" {
		t.Fatalf("the late offline sale: %+v, %v (want completed)", late, err)
	}
	a.sale(late)
	late2, err := offlineSale(c.db, c.offers[2], c.cards[2], 1500, time.Date(2026, 10, 31, 22, 0, 0, 0, testLoc))
	if err != nil || late2.ConflictReason != "" {
		t.Fatalf("the second late offline sale: %+v, %v (want completed)", late2, err)
	}
	a.sale(late2)

	v, err := c.db.MonthView(ctx, "koper", oct, true, "")
	if err != nil || v.Closed == nil || !bytes.Equal(v.Closed.Report, closed.Report) || len(v.Items) != 1 {
		t.Fatalf("October after the late sales: %+v, %v (want its frozen report and one item)", v, err)
	}
	v, err = c.db.MonthView(ctx, "koper", nov, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Report.Totals.MunicipalShare, late.MunicipalShare+late2.MunicipalShare; got != want || v.Report.Totals.Redemptions != 2 || len(v.Items) != 2 {
		t.Fatalf("November: %d redemptions, share %d, %d items; want 2, %d, 2", v.Report.Totals.Redemptions, got, len(v.Items), want)
	}
	if v.Items[0].ID != late.ID || v.Items[1].ID != late2.ID {
		t.Fatalf("November's items %s, %s; want the late sales %s, %s", v.Items[0].ID, v.Items[1].ID, late.ID, late2.ID)
	}
	if day := v.Report.Days[0]; day.Redemptions != 2 {
		t.Errorf("1 November counts %d redemptions, want the 2 late ones", day.Redemptions)
	}

	// Voided while November is open: out of November again, to zero.
	c.clock.Set(time.Date(2026, 11, 2, 10, 0, 0, 0, testLoc))
	voided, err := c.db.Void(ctx, "koper", late.ID, "", "wrong card")
	if err != nil {
		t.Fatal(err)
	}
	a.void(voided)
	if rep, err := c.db.MonthReport(ctx, "koper", nov); err != nil || rep.Totals.MunicipalShare != late2.MunicipalShare || rep.Totals.Voided != 1 || rep.Adjustments.Count != 0 {
		t.Fatalf("November after the void: %+v, %v", rep.Totals, err)
	}

	// Voided after November closed: an adjustment of December.
	c.clock.Set(time.Date(2026, 12, 1, 9, 0, 0, 0, testLoc))
	if _, err := c.db.CloseMonth(ctx, "koper", nov, jsonReport); err != nil {
		t.Fatal(err)
	}
	c.clock.Set(time.Date(2026, 12, 3, 9, 0, 0, 0, testLoc))
	voided2, err := c.db.Void(ctx, "koper", late2.ID, "", "returned")
	if err != nil {
		t.Fatal(err)
	}
	a.void(voided2)
	if rep, err := c.db.MonthReport(ctx, "koper", dec); err != nil || rep.Adjustments.Count != 1 || rep.Totals.MunicipalShare != -late2.MunicipalShare {
		t.Fatalf("December after the late void: %+v, %v", rep.Adjustments, err)
	}
	checkBooks(t, c.db, "koper", oct, dec, a)
	var frozenNov merchant.Report
	if cl, ok, err := c.db.ClosedMonth(ctx, "koper", nov); err != nil || !ok || json.Unmarshal(cl.Report, &frozenNov) != nil || frozenNov.Totals.Redemptions != 1 {
		t.Fatalf("November's frozen report: %+v, %v", frozenNov.Totals, err)
	}

	// The entry's time is the recording's: an edit of recorded_at is caught.
	raw, err := storagetest.SQLOpen(t, c.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE redemptions SET recorded_at = recorded_at + 1000 WHERE id = ?`, late2.ID); err != nil {
		t.Fatal(err)
	}
	chk, err := c.db.VerifyLedger(ctx, "koper")
	if err != nil || chk.OK || chk.RedemptionID != late2.ID {
		t.Fatalf("verify after an edit of recorded_at: %+v, %v (want not ok, naming %s)", chk, err, late2.ID)
	}
}

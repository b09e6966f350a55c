package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/storagetest"
)

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

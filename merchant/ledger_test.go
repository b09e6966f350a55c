package merchant

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// ledgerExample is the worked example of docs/reports.md.
var ledgerExample = LedgerEntry{
	Seq: 1, Kind: LedgerRedemption, RedemptionID: "red_0123456789abcdef", CardID: "crd_0123456789abcdef",
	MerchantID: "mer_0123456789abcdef", OfferID: "off_0123456789abcdef", Product: "koper-72h", Category: "shop",
	Amount: 2350, Discount: 235, Share: 118,
	CreatedAt: time.UnixMilli(1791450000123).UTC(), At: time.UnixMilli(1791450000123).UTC(),
	Month: Month{2026, time.October}, Reason: "",
}

func TestLedgerCanonicalForm(t *testing.T) {
	// The format is a contract with auditors: this must not change.
	want := "17:citycard-ledger-1,1:1,10:redemption,20:red_0123456789abcdef,20:crd_0123456789abcdef," +
		"20:mer_0123456789abcdef,20:off_0123456789abcdef,9:koper-72h,4:shop,4:2350,3:235,3:118," +
		"13:1791450000123,13:1791450000123,7:2026-10,0:,"
	if got := string(ledgerExample.Canonical()); got != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	h := ledgerExample.Hash([32]byte{})
	if got, want := hex.EncodeToString(h[:]), "7d118e891e7b8a913147cfe704fe69acea1127e6aa45020f97f54d6477d24b2c"; got != want {
		t.Fatalf("hash of the example = %s, want %s", got, want)
	}
}

func TestLedgerHashCoversEveryField(t *testing.T) {
	base := ledgerExample.Hash([32]byte{})
	edits := map[string]func(*LedgerEntry){
		"seq":        func(e *LedgerEntry) { e.Seq = 2 },
		"kind":       func(e *LedgerEntry) { e.Kind = LedgerVoid },
		"redemption": func(e *LedgerEntry) { e.RedemptionID += "x" },
		"card":       func(e *LedgerEntry) { e.CardID += "x" },
		"merchant":   func(e *LedgerEntry) { e.MerchantID += "x" },
		"offer":      func(e *LedgerEntry) { e.OfferID += "x" },
		"product":    func(e *LedgerEntry) { e.Product += "x" },
		"category":   func(e *LedgerEntry) { e.Category = "bar" },
		"amount":     func(e *LedgerEntry) { e.Amount++ },
		"discount":   func(e *LedgerEntry) { e.Discount++ },
		"share":      func(e *LedgerEntry) { e.Share++ },
		"created_at": func(e *LedgerEntry) { e.CreatedAt = e.CreatedAt.Add(time.Millisecond) },
		"at":         func(e *LedgerEntry) { e.At = e.At.Add(time.Millisecond) },
		"month":      func(e *LedgerEntry) { e.Month = Month{2026, time.November} },
		"reason":     func(e *LedgerEntry) { e.Reason = "x" },
		// Moving a byte from one field to the next must not give the same content.
		"boundary": func(e *LedgerEntry) { e.Product, e.Category = "koper-72hs", "hop" },
	}
	for name, edit := range edits {
		e := ledgerExample
		edit(&e)
		if e.Hash([32]byte{}) == base {
			t.Errorf("editing %s does not change the hash", name)
		}
	}
	if ledgerExample.Hash([32]byte{1}) == base {
		t.Error("the previous hash is not covered")
	}
}

// ledgerExample2 is the worked example of version 2 in docs/reports.md: the same redemption,
// with the card number and terminal a statement prints.
var ledgerExample2 = func() LedgerEntry {
	e := ledgerExample
	e.Version, e.CardNumber, e.Terminal = 2, "482913650274", "till-1"
	return e
}()

func TestLedgerCanonicalFormVersion2(t *testing.T) {
	want := "17:citycard-ledger-2,1:1,10:redemption,20:red_0123456789abcdef,20:crd_0123456789abcdef,12:482913650274," +
		"20:mer_0123456789abcdef,20:off_0123456789abcdef,6:till-1,9:koper-72h,4:shop,4:2350,3:235,3:118," +
		"13:1791450000123,13:1791450000123,7:2026-10,0:,"
	if got := string(ledgerExample2.Canonical()); got != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	h := ledgerExample2.Hash([32]byte{})
	if got, want := hex.EncodeToString(h[:]), ledgerExample2Hash; got != want {
		t.Fatalf("hash of the example = %s, want %s", got, want)
	}
	// Version 2 covers what version 1 left out; version 1 entries ignore the new fields.
	for name, edit := range map[string]func(*LedgerEntry){
		"card number": func(e *LedgerEntry) { e.CardNumber = "482913650275" },
		"terminal":    func(e *LedgerEntry) { e.Terminal = "till-2" },
		"version":     func(e *LedgerEntry) { e.Version = 1 },
	} {
		e := ledgerExample2
		edit(&e)
		if e.Hash([32]byte{}) == h {
			t.Errorf("editing %s does not change the hash of a version 2 entry", name)
		}
	}
	v1 := ledgerExample
	v1.Terminal = "till-9"
	if v1.Hash([32]byte{}) != ledgerExample.Hash([32]byte{}) {
		t.Error("a version 1 entry's hash changed with a field it does not cover")
	}
}

const ledgerExample2Hash = "700d58bee2037c50245c40c7f0531531408bf77384471e79a7b39feb668ddddd"

// Version 3 (towns) covers the town whose chain holds the entry and the card's issuing town.
func TestLedgerCanonicalFormVersion3(t *testing.T) {
	e := ledgerExample2
	e.Version, e.Town, e.CardTown = 3, "koper", "ptuj"
	want := "17:citycard-ledger-3,5:koper,1:1,10:redemption,20:red_0123456789abcdef,20:crd_0123456789abcdef,12:482913650274," +
		"20:mer_0123456789abcdef,20:off_0123456789abcdef,6:till-1,4:ptuj,9:koper-72h,4:shop,4:2350,3:235,3:118," +
		"13:1791450000123,13:1791450000123,7:2026-10,0:,"
	if got := string(e.Canonical()); got != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	h := e.Hash([32]byte{})
	for name, edit := range map[string]func(*LedgerEntry){
		"town":      func(e *LedgerEntry) { e.Town = "piran" },
		"card town": func(e *LedgerEntry) { e.CardTown = "koper" },
	} {
		x := e
		edit(&x)
		if x.Hash([32]byte{}) == h {
			t.Errorf("editing %s does not change the hash of a version 3 entry", name)
		}
	}
	// Earlier versions ignore the towns: they verify as they were hashed.
	v2 := ledgerExample2
	v2.Town, v2.CardTown = "koper", "ptuj"
	if v2.Hash([32]byte{}) != ledgerExample2.Hash([32]byte{}) {
		t.Error("the towns change the hash of a version 2 entry")
	}
}

// A version 2 checkpoint signs its town; version 1 keeps its message.
func TestCheckpointMessageVersion2(t *testing.T) {
	c := Checkpoint{Version: 2, Town: "ptuj", Entries: 2, SignedAt: time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC), KID: "ledger-1", Reason: "close 2026-09"}
	head := strings.Repeat("0", 64)
	want := "21:citycard-checkpoint-2,4:ptuj,1:2,64:" + head + ",20:2026-10-01T08:00:00Z,8:ledger-1,13:close 2026-09,"
	if got := string(c.Message()); got != want {
		t.Fatalf("message\n got %s\nwant %s", got, want)
	}
	c.Version, c.Town = 1, ""
	if got := string(c.Message()); !strings.HasPrefix(got, "21:citycard-checkpoint-1,1:2,") {
		t.Fatalf("version 1 message %s", got)
	}
}

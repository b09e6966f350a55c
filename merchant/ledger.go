package merchant

import (
	"crypto/sha256"
	"strconv"
	"time"
)

// Kinds of ledger entry. A void is booked in the month of the redemption it undoes while
// that month is open; once the month is closed it is an adjustment, booked in the month in
// which the void happened.
const (
	LedgerRedemption = "redemption"
	LedgerVoid       = "void"
	LedgerAdjustment = "adjustment"
	// LedgerClose records the close of Month: RedemptionID is "close:YYYY-MM", Reason the hex
	// SHA-256 of the frozen report, amounts zero. Deleting a month's close row is then seen.
	LedgerClose = "close"
)

// CloseID is the RedemptionID of a version 2 close entry of month m (before towns).
func CloseID(m Month) string { return "close:" + m.String() }

// TownCloseID is the RedemptionID of the close entry of month m in town: one close a month
// and town, as the ledger's unique index on redemption ids allows.
func TownCloseID(town string, m Month) string { return "close:" + town + ":" + m.String() }

// LedgerVersion starts every version 1 entry's canonical content, so a later format cannot
// be mistaken for it. LedgerVersion2 starts version 2's, which adds the card number and the
// terminal (what a statement prints). New entries are version 2 (LedgerCurrent); old entries
// keep the version they were hashed with.
// LedgerVersion3 starts version 3's, which adds the town whose chain the entry is in and the
// town that issued the card (what the clearing between towns is computed from).
const (
	LedgerVersion  = "citycard-ledger-1"
	LedgerVersion2 = "citycard-ledger-2"
	LedgerVersion3 = "citycard-ledger-3"
	LedgerCurrent  = 3
)

// LedgerEntry is one entry of the append-only hash chain of redemptions and voids. Amounts
// are cents, negative for voids and adjustments.
type LedgerEntry struct {
	Town         string // the town whose chain holds the entry (the merchant's)
	Seq          int64  // 1, 2, 3, … in the order of booking, within the town
	Version      int    // 1, 2 or 3: the canonical form it is hashed with
	CardTown     string // version 3: the town that issued the card ("" for a close)
	Kind         string
	RedemptionID string
	CardID       string
	CardNumber   string // version 2
	MerchantID   string
	OfferID      string
	Terminal     string // version 2
	Product      string
	Category     string
	Amount       int64
	Discount     int64
	Share        int64
	CreatedAt    time.Time // the redemption's
	At           time.Time // when the entry was booked: CreatedAt, or the time of the void
	Month        Month     // the month the entry counts in
	Reason       string    // of a void
}

// Canonical is the entry's content as hashed: each field as a netstring (decimal byte
// length, ':', the bytes, ','). Version 1, in this order: LedgerVersion, seq, kind,
// redemption id, card id, merchant id, offer id, product, category, amount, discount,
// municipal share (decimal cents), created_at and at (unix milliseconds), month (YYYY-MM),
// reason. Version 2: LedgerVersion2, seq, kind, redemption id, card id, card number,
// merchant id, offer id, terminal, then as version 1 from product on. Version 3:
// LedgerVersion3, town, then as version 2 from seq to terminal, card town, then as version 1
// from product on.
func (e LedgerEntry) Canonical() []byte { return e.AppendCanonical(make([]byte, 0, 256)) }

// AppendCanonical appends the entry's canonical content (Canonical) to b.
func (e LedgerEntry) AppendCanonical(b []byte) []byte {
	str := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
		b = append(b, ',')
	}
	num := func(n int64) {
		var tmp [24]byte
		d := strconv.AppendInt(tmp[:0], n, 10)
		b = strconv.AppendInt(b, int64(len(d)), 10)
		b = append(b, ':')
		b = append(b, d...)
		b = append(b, ',')
	}
	switch e.Version {
	case 3:
		str(LedgerVersion3)
		str(e.Town)
		num(e.Seq)
		str(e.Kind)
		str(e.RedemptionID)
		str(e.CardID)
		str(e.CardNumber)
		str(e.MerchantID)
		str(e.OfferID)
		str(e.Terminal)
		str(e.CardTown)
	case 2:
		str(LedgerVersion2)
		num(e.Seq)
		str(e.Kind)
		str(e.RedemptionID)
		str(e.CardID)
		str(e.CardNumber)
		str(e.MerchantID)
		str(e.OfferID)
		str(e.Terminal)
	default:
		// Version 1 (and the zero value, as entries were built before versions existed).
		str(LedgerVersion)
		num(e.Seq)
		str(e.Kind)
		str(e.RedemptionID)
		str(e.CardID)
		str(e.MerchantID)
		str(e.OfferID)
	}
	str(e.Product)
	str(e.Category)
	num(e.Amount)
	num(e.Discount)
	num(e.Share)
	num(e.CreatedAt.UnixMilli())
	num(e.At.UnixMilli())
	str(e.Month.String())
	str(e.Reason)
	return b
}

// Hash is SHA-256 of the previous entry's hash (32 zero bytes before the first entry)
// followed by the entry's canonical content.
func (e LedgerEntry) Hash(prev [32]byte) [32]byte {
	var buf [320]byte
	b := append(buf[:0], prev[:]...)
	return sha256.Sum256(e.AppendCanonical(b))
}

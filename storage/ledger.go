package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/citycard/citycard/merchant"
)

const ledgerColumns = `town, seq, version, card_town, kind, redemption_id, card_id, card_number, merchant_id, offer_id, terminal,
	product_code, category, amount_cents, discount_cents, share_cents, created_at, at, month, reason, hash`

// appendLedger books e as the next entry of its town's chain, setting its Seq, and returns its hash.
func appendLedger(tx *Tx, e *merchant.LedgerEntry) ([32]byte, error) {
	if e.Town == "" {
		return [32]byte{}, errors.New("ledger entry without a town")
	}
	seq, prev, err := lockHead(tx, e.Town)
	if err != nil {
		return prev, err
	}
	e.Seq = seq + 1
	if e.Version == 0 {
		e.Version = merchant.LedgerCurrent
	}
	h := e.Hash(prev)
	tx.heads[e.Town] = ledgerHeadState{e.Seq, h}
	if tx.fold != nil {
		// In a town's batch: written with the batch's other entries at its end.
		tx.fold.ledger, tx.fold.hashes = append(tx.fold.ledger, *e), append(tx.fold.hashes, h)
		return h, nil
	}
	// Deferred: from here to the commit the town's head is held (on PostgreSQL, locked by
	// lockHead), so what follows goes in as few round trips as it can (see execDeferred).
	err = tx.execDeferred(`INSERT INTO ledger (`+ledgerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Town, e.Seq, e.Version, e.CardTown, e.Kind, e.RedemptionID, e.CardID, e.CardNumber, e.MerchantID, e.OfferID, e.Terminal,
		e.Product, e.Category, e.Amount, e.Discount, e.Share, ms(e.CreatedAt), ms(e.At), e.Month.String(), e.Reason, h[:])
	if err != nil {
		return h, err
	}
	return h, tx.execDeferred(`UPDATE ledger_heads SET seq = ?, hash = ? WHERE town = ?`, e.Seq, h[:], e.Town)
}

// ledgerHeadState is a town's chain head as a write holds it: the last entry's seq and hash.
type ledgerHeadState struct {
	seq  int64
	hash [32]byte
}

// lockHead reads town's chain head from its ledger_heads row, locked until the write commits
// (on an engine with row locks), creating the row for a town's first entry. Writers of one
// town take turns here, whichever process they run in, so each appends after the entry the
// one before it appended: the chain stays gap-free and strictly ordered. It is also the
// town's lock for everything that must see a month's close state (see the package comment):
// take it first, read the close after. A write that holds it already gets its head as its
// own appends left it, without asking the engine again.
func lockHead(tx *Tx, town string) (int64, [32]byte, error) {
	var head [32]byte
	if h, ok := tx.heads[town]; ok {
		return h.seq, h.hash, nil
	}
	if tx.heads == nil {
		tx.heads = map[string]ledgerHeadState{}
	}
	for range 2 {
		var seq int64
		var hash []byte
		err := tx.queryRow(`SELECT seq, hash FROM ledger_heads WHERE town = ?`+tx.forUpdate(), town).Scan(&seq, &hash)
		if err == nil {
			copy(head[:], hash)
			tx.heads[town] = ledgerHeadState{seq, head}
			return seq, head, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, head, err
		}
		// The town's first entry. Another writer may create the row at the same time: the
		// insert then waits for it and does nothing, and the next read finds its row.
		if _, err := tx.exec(`INSERT INTO ledger_heads (town, seq, hash) VALUES (?, 0, ?) ON CONFLICT (town) DO NOTHING`, town, head[:]); err != nil {
			return 0, head, err
		}
	}
	return 0, head, fmt.Errorf("ledger head of %s: no row after creating it", town)
}

// ledgerHead is the last entry's seq and hash in town's chain: 0 and 32 zero bytes for an
// empty chain.
func ledgerHead(q querier, town string) (int64, [32]byte, error) {
	var seq int64
	var hash []byte
	var head [32]byte
	err := q.queryRow(`SELECT seq, hash FROM ledger WHERE town = ? ORDER BY seq DESC LIMIT 1`, town).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, head, nil
	}
	copy(head[:], hash)
	return seq, head, err
}

// redemptionEntry is the ledger entry that books r. Its month is decided here, once: every
// view counts the entry in it, whatever the town's zone is later. It goes into the chain of
// r's town (the merchant's), naming the card's issuing town.
func redemptionEntry(r merchant.Redemption, loc *time.Location) merchant.LedgerEntry {
	return merchant.LedgerEntry{
		Town: r.Town, CardTown: r.CardTown,
		Version: merchant.LedgerCurrent, Kind: merchant.LedgerRedemption, RedemptionID: r.ID,
		CardID: r.CardID, CardNumber: r.CardNumber, MerchantID: r.MerchantID, OfferID: r.OfferID, Terminal: r.Terminal,
		Product: r.Product, Category: r.Category, Amount: r.Amount, Discount: r.Discount, Share: r.MunicipalShare,
		CreatedAt: r.CreatedAt, At: r.CreatedAt, Month: merchant.MonthOf(r.CreatedAt, loc),
	}
}

// voidEntry is the ledger entry that books the void of r (VoidedAt set): a void in month,
// the month r's own entry counts in, or, if that month was closed, an adjustment in the month
// of the void.
func voidEntry(r merchant.Redemption, month merchant.Month, closed bool, loc *time.Location) merchant.LedgerEntry {
	e := redemptionEntry(r, loc)
	e.Kind, e.At, e.Reason, e.Month = merchant.LedgerVoid, *r.VoidedAt, r.VoidReason, month
	e.Amount, e.Discount, e.Share = -r.Amount, -r.Discount, -r.MunicipalShare
	if closed {
		e.Kind, e.Month = merchant.LedgerAdjustment, merchant.MonthOf(*r.VoidedAt, loc)
	}
	return e
}

// closeEntry is the ledger entry that records the close of town's month m, whose frozen
// report has SHA-256 sum.
func closeEntry(town string, m merchant.Month, sum [32]byte, now time.Time) merchant.LedgerEntry {
	return merchant.LedgerEntry{Town: town, Version: merchant.LedgerCurrent, Kind: merchant.LedgerClose,
		RedemptionID: merchant.TownCloseID(town, m), CreatedAt: now, At: now, Month: m, Reason: hex.EncodeToString(sum[:])}
}

func scanLedgerEntry(s scanner, e *merchant.LedgerEntry, hash *[]byte, extra ...any) error {
	var created, at int64
	var month string
	err := s.Scan(append([]any{&e.Town, &e.Seq, &e.Version, &e.CardTown, &e.Kind, &e.RedemptionID, &e.CardID, &e.CardNumber, &e.MerchantID,
		&e.OfferID, &e.Terminal, &e.Product, &e.Category, &e.Amount, &e.Discount, &e.Share, &created, &at, &month,
		&e.Reason, hash}, extra...)...)
	if err != nil {
		return err
	}
	e.CreatedAt, e.At = fromMS(created), fromMS(at)
	e.Month, err = merchant.ParseMonth(month)
	return err
}

// LedgerCheck is what VerifyLedger found. When OK, Entries and Head describe the chain;
// otherwise FirstBad names the first bad record (a ledger entry's seq, "close:YYYY-MM" for
// a closed month's frozen report, or "<rollup table>:<key>" for a rollup row), Problem says
// what is wrong with it and Rollup, for a rollup row, names its table and key.
type LedgerCheck struct {
	OK           bool
	Entries      int64
	Head         [32]byte
	FirstBad     string
	RedemptionID string
	Problem      string
	Rollup       *RollupRef
}

// RollupRef names one row of a rollup table by its key columns, in key order.
type RollupRef struct {
	Table string
	Key   []KeyColumn
}

// KeyColumn is one column of a rollup row's key.
type KeyColumn struct{ Name, Value string }

// anchor is a length and head the chain must pass through: a close's or a checkpoint's.
type anchor struct {
	entries int64
	head    [32]byte
	name    string // what recorded it, for the problem text
}

// VerifyLedger checks the books in one read transaction and changes nothing. It walks the
// ledger once: every entry must follow the one before it (seq and hash), match the
// redemption it books field by field (or, for a close, its month_closes row), and the chain
// must pass through the length and head of every close, every stored checkpoint (whose
// signature must verify) and every checkpoint given in extra (one saved elsewhere). Then every
// redemption, void and close must have its entry, every frozen report match its SHA-256, and
// every rollup row equal what the ledger adds up to (the first row in key order that differs
// is named). Its memory grows with the rollups' size, not the ledger's. It checks town's
// chain, closes, checkpoints and rollups; checkpoints in extra of other towns are left out.
func (db *DB) VerifyLedger(ctx context.Context, town string, extra ...merchant.Checkpoint) (LedgerCheck, error) {
	q, done, err := db.snapshot(ctx)
	if err != nil {
		return LedgerCheck{}, err
	}
	defer done()
	loc, err := rollupZone(q, town, db.TownLoc(town))
	if err != nil {
		return LedgerCheck{}, err
	}
	closes, err := monthCloses(q, town)
	if err != nil {
		return LedgerCheck{}, err
	}
	closeByMonth := map[string]MonthClose{}
	var anchors []anchor
	for _, c := range closes {
		closeByMonth[c.Month.String()] = c
		anchors = append(anchors, anchor{c.LedgerEntries, c.LedgerHead, "the close of " + c.Month.String()})
	}
	stored, err := allCheckpoints(q, town)
	if err != nil {
		return LedgerCheck{}, err
	}
	keys, err := checkpointPublicKeys(q)
	if err != nil {
		return LedgerCheck{}, err
	}
	for _, c := range extra {
		if c.Town == "" || c.Town == town {
			stored = append(stored, c)
		}
	}
	for _, c := range stored {
		name := fmt.Sprintf("the checkpoint of %d entries signed at %s (%s)", c.Entries, c.SignedAt.UTC().Format(time.RFC3339), c.Reason)
		if err := c.Verify(keys[c.KID]); err != nil {
			return LedgerCheck{FirstBad: strconv.FormatInt(c.Entries, 10),
				Problem: name + ": its signature does not verify with the stored key " + c.KID}, nil
		}
		anchors = append(anchors, anchor{c.Entries, c.Head, name})
	}
	// By length, to check each head as the walk passes it.
	sort.SliceStable(anchors, func(i, j int) bool { return anchors[i].entries < anchors[j].entries })
	bad := func(seq int64, redemption, format string, a ...any) LedgerCheck {
		return LedgerCheck{FirstBad: strconv.FormatInt(seq, 10), RedemptionID: redemption, Problem: fmt.Sprintf(format, a...)}
	}
	var head [32]byte
	var n int64
	checkAnchors := func() *LedgerCheck {
		for len(anchors) > 0 && anchors[0].entries == n {
			if anchors[0].head != head {
				c := bad(n, "", "the ledger head recorded by %s is not on the chain", anchors[0].name)
				return &c
			}
			anchors = anchors[1:]
		}
		return nil
	}
	if c := checkAnchors(); c != nil {
		return *c, nil
	}
	acc := newRollupAcc(town, loc, nil)
	closed := map[string]bool{} // months with a close entry
	sales, err := townSales(q, town)
	if err != nil {
		return LedgerCheck{}, err
	}
	saleBooked := map[string]bool{} // entry ids of the sale and sale_cancel entries seen
	rows, err := q.query(`SELECT l.town, l.seq, l.version, l.card_town, l.kind, l.redemption_id, l.card_id, l.card_number, l.merchant_id, l.offer_id,
			l.terminal, l.product_code, l.category, l.amount_cents, l.discount_cents, l.share_cents, l.created_at, l.at, l.month,
			l.reason, l.hash,
			r.id IS NOT NULL, coalesce(r.card_id, ''), coalesce(r.card_number, ''), coalesce(r.merchant_id, ''),
			coalesce(r.offer_id, ''), coalesce(r.terminal, ''), coalesce(r.product_code, ''), coalesce(r.category, ''),
			coalesce(r.amount_cents, 0), coalesce(r.discount_cents, 0), coalesce(r.share_cents, 0), coalesce(r.created_at, 0),
			r.voided_at, coalesce(r.void_reason, '')
			, coalesce(r.town, ''), coalesce(r.card_town, ''),
			coalesce(r.conflict_reason, ''), coalesce(r.decision, ''), r.decided_at, r.recorded_at, coalesce(r.offline, 0)
		FROM ledger l LEFT JOIN redemptions r ON r.id = l.redemption_id WHERE l.town = ? ORDER BY l.seq`, town)
	if err != nil {
		return LedgerCheck{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var e merchant.LedgerEntry
		var stored []byte
		var r merchant.Redemption
		var found bool
		var created int64
		var voided, decided, recorded sql.NullInt64
		if err := scanLedgerEntry(rows, &e, &stored, &found, &r.CardID, &r.CardNumber, &r.MerchantID, &r.OfferID, &r.Terminal,
			&r.Product, &r.Category, &r.Amount, &r.Discount, &r.MunicipalShare, &created, &voided, &r.VoidReason,
			&r.Town, &r.CardTown, &r.ConflictReason, &r.Decision, &decided, &recorded, &r.Offline); err != nil {
			// A month or value that does not parse is an edit too.
			return bad(n+1, "", "entry cannot be read: %v", err), nil
		}
		r.ID, r.CreatedAt, r.VoidedAt = e.RedemptionID, fromMS(created), fromNullMS(voided)
		r.DecidedAt, r.RecordedAt = fromNullMS(decided), recordedAt(r.CreatedAt, recorded)
		if e.Seq != n+1 {
			return bad(n+1, "", "entry %d is missing", n+1), nil
		}
		want := e.Hash(head)
		if !bytes.Equal(stored, want[:]) {
			return bad(e.Seq, e.RedemptionID, "entry does not match its hash: it was edited, or an entry before it was"), nil
		}
		if e.Kind == merchant.LedgerClose {
			c, ok := closeByMonth[e.Month.String()]
			switch {
			case !ok:
				return bad(e.Seq, "", "the ledger says %s was closed, but month_closes has no row for it", e.Month), nil
			case c.LedgerEntries >= e.Seq || hex.EncodeToString(c.SHA256[:]) != e.Reason:
				return bad(e.Seq, "", "the close of %s differs from its ledger entry", e.Month), nil
			}
			closed[e.Month.String()] = true
		} else if e.Kind == merchant.LedgerSale || e.Kind == merchant.LedgerSaleCancel {
			// A sales point's card: its sales row must say what the entry booked.
			sr, ok := sales[e.CardID]
			if !ok {
				return bad(e.Seq, e.RedemptionID, "the sale of card %s is not in the sales table", e.CardID), nil
			}
			if p := saleMismatch(e, sr); p != "" {
				return bad(e.Seq, e.RedemptionID, "the sale of card %s differs from its ledger entry: %s", e.CardID, p), nil
			}
			saleBooked[e.RedemptionID] = true
		} else {
			if !found {
				return bad(e.Seq, e.RedemptionID, "redemption %s is not in the redemptions table", e.RedemptionID), nil
			}
			// The entry is paid in the statements: its row must say it counts. A decision
			// flipped, a conflict field removed or a status edited in the row shows here.
			if p := r.Impossible(); p != "" {
				return bad(e.Seq, e.RedemptionID, "redemption %s cannot be as stored: %s", e.RedemptionID, p), nil
			}
			if e.Kind == merchant.LedgerRedemption && !r.Booked() {
				return bad(e.Seq, e.RedemptionID, "redemption %s is %s, which counts nowhere, yet the ledger books it",
					e.RedemptionID, conflictState(r)), nil
			}
			if p := entryMismatch(e, r); p != "" {
				return bad(e.Seq, e.RedemptionID, "redemption %s differs from its ledger entry: %s", e.RedemptionID, p), nil
			}
			acc.add(e)
		}
		head, n = want, e.Seq
		if c := checkAnchors(); c != nil {
			return *c, nil
		}
	}
	if err := rows.Err(); err != nil {
		return LedgerCheck{}, err
	}
	rows.Close()
	if len(anchors) > 0 {
		return bad(n+1, "", "entry %d is missing: %s saw %d entries, the ledger has %d", n+1, anchors[0].name, anchors[0].entries, n), nil
	}
	if c := unbookedSale(sales, saleBooked, n); c != nil {
		return *c, nil
	}
	if c, err := unbookedRow(q, town, n); err != nil || c != nil {
		if err != nil {
			return LedgerCheck{}, err
		}
		return *c, nil
	}
	var pending int
	if err := q.queryRow(`SELECT count(*) FROM settings WHERE key = 'ledger_close_backfill'`).Scan(&pending); err != nil {
		return LedgerCheck{}, err
	}
	for _, c := range closes {
		if sha256.Sum256(c.Report) != c.SHA256 {
			return LedgerCheck{FirstBad: "close:" + c.Month.String(), Problem: "the frozen report does not match its SHA-256"}, nil
		}
		// Months closed before closes were ledger entries get theirs at the next start.
		if pending == 0 && !closed[c.Month.String()] {
			return LedgerCheck{FirstBad: "close:" + c.Month.String(), Problem: "the close of " + c.Month.String() + " has no ledger entry"}, nil
		}
	}
	if p, err := acc.compare(q, ""); err != nil || p != nil {
		if err != nil {
			return LedgerCheck{}, err
		}
		if p.exact == nil {
			// The distinct cards of one month and scope disagree: walk that month's entries
			// again for the exact row (only on this failure path).
			if p, err = exactCardUses(q, town, loc, p.cardGroup); err != nil || p == nil {
				if err == nil {
					err = errors.New("verify: card uses disagree, but no row differs")
				}
				return LedgerCheck{}, err
			}
		}
		return p.check(), nil
	}
	// The head row every append goes through must be where the chain ends: an entry deleted
	// from the end (with its head row left) or a head row moved shows here.
	var headSeq int64
	var headHash []byte
	switch err := q.queryRow(`SELECT seq, hash FROM ledger_heads WHERE town = ?`, town).Scan(&headSeq, &headHash); {
	case errors.Is(err, sql.ErrNoRows):
		if n > 0 {
			return bad(n, "", "ledger_heads has no row for a chain of %d entries", n), nil
		}
	case err != nil:
		return LedgerCheck{}, err
	case headSeq != n || !bytes.Equal(headHash, head[:]):
		if headSeq > n {
			return bad(n+1, "", "entry %d is missing: ledger_heads says the chain has %d entries, the ledger has %d", n+1, headSeq, n), nil
		}
		return bad(headSeq, "", "ledger_heads (entry %d) is not where the chain ends (entry %d)", headSeq, n), nil
	}
	return LedgerCheck{OK: true, Entries: n, Head: head}, nil
}

// unbookedRow names the first redemption of town (by seq) that the walk of a ledger of n
// entries cannot have seen right: one that counts (merchant.Redemption.Booked) without its
// redemption entry, a voided one without its void's entry, or one whose fields no write
// leaves (merchant.Redemption.Impossible; with an entry the walk named it already). Its
// first_bad is n+1, the entry it would need; nil if there is none. One pass over the town's
// redemptions, with a look-up in the ledger's unique index for those that need an entry.
func unbookedRow(q querier, town string, n int64) (*LedgerCheck, error) {
	var id string
	// A redemption of no known town is every town's problem: no chain could hold it. The
	// entries are looked up by redemption_id (l.town || '' keeps SQLite, which has no
	// statistics, from searching the town's whole chain by the primary key instead).
	err := q.queryRow(`SELECT r.id FROM redemptions r WHERE (r.town = ? OR r.town NOT IN (SELECT code FROM towns)) AND (
			(r.conflict_reason IS NULL AND (r.decision IS NOT NULL OR r.decided_at IS NOT NULL))
			OR (r.decision IS NOT NULL AND r.decision NOT IN ('accepted', 'rejected'))
			OR ((r.decision IS NULL) <> (r.decided_at IS NULL))
			OR (r.conflict_reason IS NOT NULL AND r.voided_at IS NOT NULL)
			OR ((r.conflict_reason IS NULL OR r.decision = 'accepted') AND NOT EXISTS
				(SELECT 1 FROM ledger l WHERE l.redemption_id = r.id AND l.kind = 'redemption' AND l.town || '' = r.town))
			OR (r.voided_at IS NOT NULL AND NOT EXISTS
				(SELECT 1 FROM ledger l WHERE l.redemption_id = r.id AND l.kind <> 'redemption' AND l.town || '' = r.town)))
		ORDER BY r.seq LIMIT 1`, town).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	// Only on this failure path: which of the above it is.
	r, err := redemptionWhere(q, `id = ?`, id)
	if err != nil {
		return nil, err
	}
	c := LedgerCheck{FirstBad: strconv.FormatInt(n+1, 10), RedemptionID: id}
	var booked int
	if err := q.queryRow(`SELECT count(*) FROM ledger WHERE redemption_id = ? AND kind = 'redemption' AND town = ?`, id, r.Town).Scan(&booked); err != nil {
		return nil, err
	}
	switch p := r.Impossible(); {
	case p != "":
		c.Problem = fmt.Sprintf("redemption %s cannot be as stored: %s", id, p)
	case r.Booked() && booked == 0:
		c.Problem = fmt.Sprintf("redemption %s has no ledger entry", id)
	default:
		c.Problem = fmt.Sprintf("the void of redemption %s has no ledger entry", id)
	}
	return &c, nil
}

// unbookedSale names a sales row of the town without its issue entry, or cancelled without
// its cancel entry, in a ledger of n entries (first_bad n+1), or nil.
func unbookedSale(sales map[string]saleRow, booked map[string]bool, n int64) *LedgerCheck {
	ids := make([]string, 0, len(sales))
	for id := range sales {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the same row named every time
	for _, id := range ids {
		s := sales[id]
		switch {
		case !booked[merchant.SaleID(id)]:
			return &LedgerCheck{FirstBad: strconv.FormatInt(n+1, 10), RedemptionID: merchant.SaleID(id),
				Problem: fmt.Sprintf("the sale of card %s has no ledger entry", id)}
		case s.cancelledAt != nil && !booked[merchant.SaleCancelID(id)]:
			return &LedgerCheck{FirstBad: strconv.FormatInt(n+1, 10), RedemptionID: merchant.SaleCancelID(id),
				Problem: fmt.Sprintf("the cancel of card %s has no ledger entry", id)}
		}
	}
	return nil
}

// conflictState says what r, a conflict, is for a problem's text.
func conflictState(r merchant.Redemption) string {
	if r.Decision == merchant.DecisionRejected {
		return "a rejected conflict"
	}
	return "a conflict waiting for the office's decision"
}

// entryMismatch names the first field in which the redemption r (as stored now) differs
// from what ledger entry e booked, or "". Version 2 entries cover the card number and the
// terminal too, version 3 the card's issuing town; every entry is in its redemption's town's
// chain.
func entryMismatch(e merchant.LedgerEntry, r merchant.Redemption) string {
	sign := int64(1)
	if e.Kind != merchant.LedgerRedemption {
		sign = -1
	}
	switch {
	case r.Town != e.Town:
		return "town"
	case e.Version >= 3 && r.CardTown != e.CardTown:
		return "card town"
	case r.CardID != e.CardID:
		return "card"
	case e.Version >= 2 && r.CardNumber != e.CardNumber:
		return "card number"
	case r.MerchantID != e.MerchantID:
		return "merchant"
	case r.OfferID != e.OfferID:
		return "offer"
	case e.Version >= 2 && r.Terminal != e.Terminal:
		return "terminal"
	case r.Product != e.Product:
		return "product"
	case r.Category != e.Category:
		return "category"
	case r.Amount*sign != e.Amount:
		return "amount"
	case r.Discount*sign != e.Discount:
		return "discount"
	case r.MunicipalShare*sign != e.Share:
		return "municipal share"
	case !r.CreatedAt.Equal(e.CreatedAt):
		return "created_at"
	case e.Kind == merchant.LedgerRedemption && !e.At.Equal(e.CreatedAt) && !bookedLate(r, e):
		return "time of the entry"
	case e.Kind != merchant.LedgerRedemption && (r.VoidedAt == nil || !r.VoidedAt.Equal(e.At)):
		return "voided_at"
	case e.Kind != merchant.LedgerRedemption && r.VoidReason != e.Reason:
		return "void reason"
	}
	return ""
}

// backfillLedger books the redemptions and voids stored before the ledger existed, in the
// order they happened. It runs once, in the first write after the migration that adds the
// ledger (initLedger); no month can have been closed before it.
func backfillLedger(tx *Tx) error {
	if err := resyncHeads(tx); err != nil {
		return err
	}
	rows, err := tx.query(`SELECT ` + redemptionColumns + ` FROM redemptions ORDER BY seq`)
	if err != nil {
		return err
	}
	type event struct {
		at  time.Time
		seq int64
		e   merchant.LedgerEntry
	}
	var events []event
	for rows.Next() {
		r, seq, err := scanRedemption(rows)
		if err != nil {
			rows.Close()
			return err
		}
		loc := tx.db.TownLoc(r.Town)
		events = append(events, event{r.CreatedAt, 2 * seq, redemptionEntry(r, loc)})
		if r.VoidedAt != nil {
			events = append(events, event{*r.VoidedAt, 2*seq + 1, voidEntry(r, merchant.MonthOf(r.CreatedAt, loc), false, loc)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(events, func(i, j int) bool {
		if !events[i].at.Equal(events[j].at) {
			return events[i].at.Before(events[j].at)
		}
		return events[i].seq < events[j].seq
	})
	for _, ev := range events {
		if _, err := appendLedger(tx, &ev.e); err != nil {
			return err
		}
	}
	return nil
}

// bookedLate reports whether e books r after r's own month was closed: a conflict accepted
// then (acceptedLate), or a completed offline sale recorded then, whose entry's time is when
// the server recorded it (recorded_at). Either counts in the month of that time (or, if that
// was closed too, the next open one: lateMonth).
func bookedLate(r merchant.Redemption, e merchant.LedgerEntry) bool {
	return acceptedLate(r, e) || (r.Offline && r.ConflictReason == "" && e.At.Equal(r.RecordedAt))
}

// acceptedLate reports whether e books r as a conflict accepted after its month was closed:
// then the entry's time is the decision's, and it counts in the month of the decision.
func acceptedLate(r merchant.Redemption, e merchant.LedgerEntry) bool {
	return r.ConflictReason != "" && r.Decision == merchant.DecisionAccepted && r.DecidedAt != nil && e.At.Equal(*r.DecidedAt)
}

// recordedAt is a redemption's recorded_at as scanRedemption reads it: created_at where none
// is stored (an online redemption).
func recordedAt(created time.Time, recorded sql.NullInt64) time.Time {
	if recorded.Valid {
		return fromMS(recorded.Int64)
	}
	return created
}

// resyncHeads sets every town's ledger_heads row from its chain as stored, before an upgrade
// books into the ledger what an older version stored outside it.
func resyncHeads(tx *Tx) error {
	tx.heads = nil
	if _, err := tx.exec(`DELETE FROM ledger_heads`); err != nil {
		return err
	}
	_, err := tx.exec(`INSERT INTO ledger_heads (town, seq, hash)
		SELECT l.town, l.seq, l.hash FROM ledger l WHERE l.seq = (SELECT max(seq) FROM ledger WHERE town = l.town)`)
	return err
}

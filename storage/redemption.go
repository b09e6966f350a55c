package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
)

const redemptionColumns = `seq, id, town, card_town, card_id, card_number, merchant_id, offer_id, product_code, category, terminal,
	amount_cents, discount_cents, share_cents, created_at, voided_at, void_reason,
	recorded_at, offline, conflict_reason, decided_at, decision, decision_note`

// Redeem records a redemption for a till: it resolves the card (ref), the merchant's offer,
// applies merchant.QuoteFor, activates the card on its first use, and binds the request's
// Idempotency-Key to the redemption in the same transaction. A retry with the same key and
// body returns the original redemption as it was created, with replayed true; with another
// body, merchant.ErrIdempotencyMismatch. Errors: card.ErrNotFound, merchant.ErrOfferNotFound,
// merchant.ErrSuspended and the errors of merchant.QuoteFor.
func (db *DB) Redeem(ctx context.Context, req merchant.RedeemRequest, ref card.Ref) (merchant.Redemption, bool, error) {
	if err := req.Validate(true); err != nil {
		return merchant.Redemption{}, false, err
	}
	if req.OccurredAt != nil {
		if err := merchant.CheckOccurredAt(*req.OccurredAt, db.Now()); err != nil {
			return merchant.Redemption{}, false, err
		}
	}
	fp := fingerprint(req)
	// On SQLite most retries find their answer in the read pool without queueing for the
	// writer. On PostgreSQL there is no queue, and the transaction looks first anyway: the
	// extra round trip would only slow every redemption down.
	if !db.eng.Shared() {
		if r, ok, err := replay(db.reader(ctx), req, fp); err != nil || ok {
			return r, ok, err
		}
	}
	var out merchant.Redemption
	var replayed bool
	defer db.cache.cards.invalidate(ref.Number, false)
	err := db.updateInTown(ctx, db.merchantTown(ctx, req.MerchantID), func(tx *Tx) error {
		// Every read below but the product's (cached) goes ahead in one round trip on
		// PostgreSQL: in a town's batch the head is held for it, not for six.
		if tx.prefetching() {
			tx.prefetch(redeemReads(tx, req, ref)...)
		}
		r, ok, err := replay(tx, req, fp)
		if err != nil || ok {
			out, replayed = r, ok
			return err
		}
		out, err = redeem(tx, req, ref)
		if err != nil {
			return err
		}
		// A key claimed by a concurrent request fails here or at the commit (deferred): the
		// write is refused and answered as a replay below.
		err = tx.execDeferred(`INSERT INTO idempotency_keys (merchant_id, key, fingerprint, redemption_id, created_at) VALUES (?, ?, ?, ?, ?)`,
			req.MerchantID, req.IdempotencyKey, fp, out.ID, ms(tx.Now))
		if err != nil {
			return err
		}
		return tx.auditIn(out.Town, "redemption.create", out.ID)
	})
	if err != nil && (errors.Is(err, merchant.ErrLimitReached) || db.eng.IsUnique(err)) {
		// A request with the same key may have won while this one ran (a till's retry
		// through another instance): it lost on the limit's index or on the key itself, and
		// its answer is the winner's redemption.
		r, ok, rerr := replay(db.reader(ctx), req, fp)
		if rerr != nil {
			return merchant.Redemption{}, false, rerr // ErrIdempotencyMismatch: another body
		}
		if ok {
			return r, true, nil
		}
	}
	return out, replayed, err
}

// merchantTown is the town of merchant id, from the cache, for the batch its redemptions join
// (updateInTown); "" if it cannot be read (the write then runs on its own and finds out why).
func (db *DB) merchantTown(ctx context.Context, id string) string {
	m, err := cached(db.cache.merchantByID, id, func() (merchant.Merchant, error) { return merchantWhere(db.reader(ctx), `id = ?`, id) })
	if err != nil {
		return ""
	}
	return m.Town
}

func redeem(tx *Tx, req merchant.RedeemRequest, ref card.Ref) (merchant.Redemption, error) {
	// Rules are evaluated when the sale happened: at occurred_at for an offline till.
	at, offline := tx.Now, req.OccurredAt != nil
	if offline {
		at = *req.OccurredAt
	}
	if err := tx.checkMerchantKey(req.MerchantID); err != nil {
		return merchant.Redemption{}, err
	}
	c, p, o, uses, m, err := tx.db.redemptionContext(tx, req.MerchantID, ref, req.OfferID, true, offline)
	if offline && errors.Is(err, card.ErrNotAccepted) {
		return recordConflict(tx, req, c, o, m, at, err)
	}
	if err != nil {
		return merchant.Redemption{}, err
	}
	if offline {
		// Only a till's occurred_at can precede the card's issue; the server's own clock is
		// taken as it is (a clock set back in a test, another instance a moment behind).
		if err := c.CheckSaleTime(at); err != nil {
			return recordConflict(tx, req, c, o, m, at, err)
		}
	}
	loc := tx.db.TownLoc(m.Town)
	q, err := merchant.QuoteFor(c, o, uses, req.Amount, at, loc)
	if offline && merchant.ConflictReason(err) {
		return recordConflict(tx, req, c, o, m, at, err)
	}
	if err != nil {
		return merchant.Redemption{}, err
	}
	// Validity days count in the zone of the town that issued the card.
	if c.Activate(p, at, tx.db.TownLoc(c.Town)) {
		if _, err := tx.exec(`UPDATE cards SET activated_at = ?, expires_at = ? WHERE id = ? AND activated_at IS NULL`,
			ms(*c.ActivatedAt), ms(*c.ExpiresAt), c.ID); err != nil {
			return merchant.Redemption{}, err
		}
	}
	r := merchant.Redemption{
		ID: newID("red"), Town: m.Town, CardTown: c.Town, CardID: c.ID, CardNumber: c.Number, MerchantID: m.ID, OfferID: o.ID,
		Product: c.Product, Category: m.Category, Terminal: req.Terminal,
		Amount: q.Amount, Discount: q.Discount, MunicipalShare: q.MunicipalShare, CreatedAt: at, RecordedAt: tx.Now, Offline: offline,
	}
	key := merchant.LimitKey(o, c.ID, at, loc)
	if !offline {
		// Deferred: on PostgreSQL a concurrent redemption of the same limit key fails it at
		// the commit, and the write is run again, when the rule above sees that use (or, for
		// the same Idempotency-Key, the replay does). SQLite runs it here and now.
		err = tx.execDeferred(`INSERT INTO redemptions (id, town, card_town, card_id, card_number, merchant_id, offer_id, product_code, category, terminal,
			amount_cents, discount_cents, share_cents, limit_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Town, r.CardTown, r.CardID, r.CardNumber, r.MerchantID, r.OfferID, r.Product, r.Category, r.Terminal,
			r.Amount, r.Discount, r.MunicipalShare, nullStr(key), ms(r.CreatedAt))
	} else {
		// In a savepoint: a limit's unique violation turns the sale into a conflict, recorded
		// in the same transaction, which PostgreSQL would otherwise have aborted.
		err = tx.savepoint(func() error { return insertOffline(tx, r, key) })
	}
	if tx.isUnique(err) {
		// The rule above already saw the card's latest use; the index is the last line of
		// defence (and, offline, catches an earlier day's use behind a later one).
		if offline {
			return recordConflict(tx, req, c, o, m, at, merchant.ErrLimitReached)
		}
		return merchant.Redemption{}, merchant.ErrLimitReached
	}
	if err != nil {
		return merchant.Redemption{}, err
	}
	return r, bookRedemption(tx, r)
}

// insertOffline stores an offline redemption or conflict (ConflictReason set, no limit key).
func insertOffline(tx *Tx, r merchant.Redemption, key string) error {
	_, err := tx.exec(`INSERT INTO redemptions (id, town, card_town, card_id, card_number, merchant_id, offer_id, product_code, category, terminal,
			amount_cents, discount_cents, share_cents, limit_key, created_at, recorded_at, offline, conflict_reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
		r.ID, r.Town, r.CardTown, r.CardID, r.CardNumber, r.MerchantID, r.OfferID, r.Product, r.Category, r.Terminal,
		r.Amount, r.Discount, r.MunicipalShare, nullStr(key), ms(r.CreatedAt), ms(r.RecordedAt), nullStr(r.ConflictReason))
	return err
}

// recordConflict records an offline sale that broke rule (an error merchant.ConflictReason
// accepts) as a conflict: no limit key, no activation, no ledger entry until the office
// accepts it. The offer's minimum amount still applies: a till knows it offline. A merchant
// with as many open conflicts as the cap gets merchant.ErrTooManyConflicts instead.
func recordConflict(tx *Tx, req merchant.RedeemRequest, c card.Card, o merchant.Offer, m merchant.Merchant, at time.Time, rule error) (merchant.Redemption, error) {
	q, err := merchant.ConflictQuote(o, req.Amount)
	if err != nil {
		return merchant.Redemption{}, err
	}
	r := merchant.Redemption{
		ID: newID("red"), Town: m.Town, CardTown: c.Town, CardID: c.ID, CardNumber: c.Number, MerchantID: m.ID, OfferID: o.ID,
		Product: c.Product, Category: m.Category, Terminal: req.Terminal,
		Amount: q.Amount, Discount: q.Discount, MunicipalShare: q.MunicipalShare, CreatedAt: at, RecordedAt: tx.Now, Offline: true,
		ConflictReason: conflictCode(rule),
	}
	// One till must not flood the office: past the cap the sale is refused, not lost (the
	// till keeps it and sends it again; see capConflicts).
	if err := capConflicts(tx, m.Town, m.ID); err != nil {
		return merchant.Redemption{}, err
	}
	return r, insertOffline(tx, r, "")
}

// conflictCode is the contract's error code of a rule an offline till could not know.
func conflictCode(err error) string {
	switch {
	case errors.Is(err, merchant.ErrLimitReached):
		return "limit_reached"
	case errors.Is(err, card.ErrNotYetIssued):
		return "card_not_yet_issued"
	case errors.Is(err, card.ErrExpired):
		return "card_expired"
	case errors.Is(err, card.ErrBlocked):
		return "card_blocked"
	case errors.Is(err, merchant.ErrOfferInactive):
		return "offer_inactive"
	case errors.Is(err, merchant.ErrOfferNotEligible):
		return "offer_not_eligible"
	}
	return "card_not_accepted"
}

// redemptionContext loads what a redemption rule needs, in the order that gives a till the
// most useful error first: the card, the merchant's offer, the card's product (with the towns
// that accept it, in the same query: card.ErrNotAccepted if the merchant's town is not one)
// and its uses of the offer. In a write (q a *Tx) the merchant and the offer are read locked
// against changes and the card locked for update, until the write commits: a suspension, a
// block or an offer change that commits first is seen, and one that comes later waits for
// the redemption to commit, so no redemption completes at a merchant suspended, on a card
// blocked or with an offer changed before it (issue 17).
//
// An offline sale (offline) may become a conflict, and recording one writes the merchant's
// row (capConflicts). Two such writes that had both read the row FOR SHARE would each wait
// for the other's share lock to upgrade it: a deadlock (PostgreSQL 40P01, retried, but a
// wasted round each time), and so would one holding the card that an online redemption of
// the same merchant, holding its share, waits for. So an offline sale takes the merchant's
// row FOR UPDATE up front, before anything else: the upgrade never happens, and offline
// sales of one merchant take their turns (as the cap already made its conflicts do), while
// online redemptions keep sharing the row. Every redemption locks in the same order,
// merchant, card, offer, then the town's ledger head, so none waits for another in a cycle.
func (db *DB) redemptionContext(q querier, merchantID string, ref card.Ref, offerID string, needActive, offline bool) (card.Card, card.Product, merchant.Offer, []merchant.Use, merchant.Merchant, error) {
	var (
		c    card.Card
		p    card.Product
		o    merchant.Offer
		m    merchant.Merchant
		uses []merchant.Use
		err  error
	)
	rq := redemptionReads(q, merchantID, ref.Number, offerID, offline)
	if m, err = merchantOf(q, rq.merchant); err != nil {
		return c, p, o, uses, m, err
	}
	if needActive && m.Status != merchant.StatusActive {
		return c, p, o, uses, m, merchant.ErrSuspended
	}
	if c, err = cardOf(q, rq.card); err != nil {
		return c, p, o, uses, m, err
	}
	if o, err = offerOf(q, rq.offer); err != nil {
		return c, p, o, uses, m, err
	}
	if p, err = db.productByCode(q, c.Town, c.Product); err != nil {
		return c, p, o, uses, m, err
	}
	if !p.Accepts(m.Town) {
		return c, p, o, uses, m, card.ErrNotAccepted
	}
	uses, err = usesOf(q, rq.uses)
	return c, p, o, uses, m, err
}

// redemptionQueries are the reads redemptionContext makes, in its order (the product's
// aside: it is cached, and its key is only known from the card).
type redemptionQueries struct{ merchant, card, offer, uses engine.Query }

// redemptionReads are redemptionContext's reads, with its locks in a write (q a *Tx; see
// redemptionContext for their order), so that a write may send them ahead (redeemReads). The
// card's uses are read by its number, so that their query is known before the card is read;
// the card without its sales point, which no redemption rule needs.
func redemptionReads(q querier, merchantID, number, offerID string, offline bool) redemptionQueries {
	lockMerchant, lockCard, lockOffer := "", "", ""
	if tx, ok := q.(*Tx); ok {
		lockMerchant, lockCard, lockOffer = tx.forShare(), tx.forUpdate(), tx.forShare()
		if offline {
			lockMerchant = tx.forUpdate()
		}
	}
	return redemptionQueries{
		merchant: merchantQuery(`id = ?`+lockMerchant, merchantID),
		card:     cardQuery(cardColumnsNoSales, `number = ?`+lockCard, number),
		offer:    offerQuery(`o.id = ? AND o.merchant_id = ?`+lockOffer, offerID, merchantID),
		uses:     cardUsesQuery(number, offerID),
	}
}

// redeemReads are the reads a redemption makes in its write, in their order, for tx.prefetch:
// the Idempotency-Key (replay), the merchant key (checkMerchantKey, if the write has one),
// then redemptionContext's (merchant, card and offer locked in that order, and the card's
// uses of the offer).
func redeemReads(tx *Tx, req merchant.RedeemRequest, ref card.Ref) []engine.Query {
	qs := []engine.Query{replayQuery(req)}
	if mq, ok := tx.merchantKeyQuery(req.MerchantID); ok {
		qs = append(qs, mq)
	}
	rq := redemptionReads(tx, req.MerchantID, ref.Number, req.OfferID, req.OccurredAt != nil)
	return append(qs, rq.merchant, rq.card, rq.offer, rq.uses)
}

// cardUsesQuery reads the latest not-voided use of an offer by the card with this number, if
// any: all that the once and daily rules need, at a cost that does not grow with the card's
// history. By the card's number, so that a write knows it before it reads the card.
func cardUsesQuery(number, offerID string) engine.Query {
	return engine.Query{SQL: `SELECT created_at FROM redemptions
		WHERE card_id = (SELECT id FROM cards WHERE number = ?) AND offer_id = ? AND voided_at IS NULL AND conflict_reason IS NULL
		ORDER BY seq DESC LIMIT 1`,
		Args: []any{number, offerID}}
}

// usesOf runs uq (cardUsesQuery).
func usesOf(q querier, uq engine.Query) ([]merchant.Use, error) {
	var at int64
	err := q.queryRow(uq.SQL, uq.Args...).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []merchant.Use{{At: fromMS(at)}}, nil
}

// cardUsesByOffer is cardUsesQuery's answer for every offer the card has used.
func cardUsesByOffer(q querier, cardID string) (map[string][]merchant.Use, error) {
	rows, err := q.query(`SELECT offer_id, max(created_at) FROM redemptions
		WHERE card_id = ? AND voided_at IS NULL AND conflict_reason IS NULL GROUP BY offer_id`, cardID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]merchant.Use{}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		out[id] = []merchant.Use{{At: fromMS(at)}}
	}
	return out, rows.Err()
}

// replay looks up the Idempotency-Key of req. ok is true if it was used before with the same
// fingerprint; the redemption is returned as it was when created.
func replay(q querier, req merchant.RedeemRequest, fp []byte) (merchant.Redemption, bool, error) {
	var have []byte
	var id string
	rq := replayQuery(req)
	err := q.queryRow(rq.SQL, rq.Args...).Scan(&have, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return merchant.Redemption{}, false, nil
	}
	if err != nil {
		return merchant.Redemption{}, false, err
	}
	if !bytes.Equal(have, fp) {
		return merchant.Redemption{}, false, merchant.ErrIdempotencyMismatch
	}
	r, err := redemptionWhere(q, `id = ?`, id)
	// The original answer, not today's state.
	r.VoidedAt, r.VoidReason, r.DecidedAt, r.Decision, r.DecisionNote = nil, "", nil, "", ""
	return r, err == nil, err
}

// replayQuery is replay's read of the Idempotency-Key.
func replayQuery(req merchant.RedeemRequest) engine.Query {
	return engine.Query{SQL: `SELECT fingerprint, redemption_id FROM idempotency_keys WHERE merchant_id = ? AND key = ?`,
		Args: []any{req.MerchantID, req.IdempotencyKey}}
}

// fingerprint identifies a request's body for its Idempotency-Key.
func fingerprint(req merchant.RedeemRequest) []byte {
	h := sha256.New()
	for _, s := range []string{req.CardInput, req.OfferID, req.Terminal} {
		binary.Write(h, binary.BigEndian, uint32(len(s)))
		h.Write([]byte(s))
	}
	binary.Write(h, binary.BigEndian, req.Amount)
	if req.OccurredAt != nil { // absent: the fingerprint of a request before offline tills
		binary.Write(h, binary.BigEndian, req.OccurredAt.UnixMilli())
	}
	return h.Sum(nil)
}

// Quote computes what Redeem would record, with the same errors, and records nothing.
func (db *DB) Quote(ctx context.Context, req merchant.RedeemRequest, ref card.Ref) (merchant.Quote, error) {
	if err := req.Validate(false); err != nil {
		return merchant.Quote{}, err
	}
	c, _, o, uses, m, err := db.redemptionContext(db.reader(ctx), req.MerchantID, ref, req.OfferID, true, false)
	if err != nil {
		return merchant.Quote{}, err
	}
	return merchant.QuoteFor(c, o, uses, req.Amount, db.Now(), db.TownLoc(m.Town))
}

// OfferState is an offer and whether a given card may use it now (Reason nil) or why not.
type OfferState struct {
	Offer    merchant.Offer
	Merchant merchant.Merchant
	Reason   error
	UsedAt   *time.Time // the card's latest not-voided use
}

// CheckCard returns the card named by ref and every active offer of the merchant with
// whether the card may use it now: none if the card's product is not accepted in the
// merchant's town (reason card.ErrNotAccepted). It changes nothing.
func (db *DB) CheckCard(ctx context.Context, merchantID string, ref card.Ref) (card.Card, []OfferState, error) {
	q := db.reader(ctx)
	e, err := db.cardEntry(q, ref.Number)
	if err != nil {
		return e.card, nil, err
	}
	c, uses := e.card, e.uses
	m, err := cached(db.cache.merchantByID, merchantID, func() (merchant.Merchant, error) { return merchantWhere(q, `id = ?`, merchantID) })
	if err != nil {
		return c, nil, err
	}
	offers, err := cached(db.cache.offers, merchantID, func() ([]merchant.Offer, error) { return merchantOffers(q, merchantID, true) })
	if err != nil {
		return c, nil, err
	}
	now := db.Now()
	loc := db.TownLoc(m.Town)
	accepted := e.product.Accepts(m.Town)
	out := make([]OfferState, 0, len(offers))
	for _, o := range offers {
		s := offerState(c, o, m, uses[o.ID], now, loc)
		if !accepted {
			s.Reason = card.ErrNotAccepted
		}
		out = append(out, s)
	}
	return c, out, nil
}

func offerState(c card.Card, o merchant.Offer, m merchant.Merchant, uses []merchant.Use, now time.Time, loc *time.Location) OfferState {
	s := OfferState{Offer: o, Merchant: m, Reason: merchant.Check(c, o, uses, now, loc)}
	if len(uses) > 0 {
		at := uses[len(uses)-1].At
		s.UsedAt = &at
	}
	return s
}

// CardBenefits returns the card named by ref (card.ErrNotFound) and every benefit it has:
// the active offers of active merchants, in every town that accepts its product, open to its
// product and whose last day is not over, with whether the card may use each now and when it
// last did.
func (db *DB) CardBenefits(ctx context.Context, ref card.Ref) (card.Card, card.Product, []OfferState, error) {
	q := db.reader(ctx)
	e, err := db.cardEntry(q, ref.Number)
	if err != nil {
		return e.card, card.Product{}, nil, err
	}
	c, uses, p := e.card, e.uses, e.product
	now := db.Now()
	var out []OfferState
	page := Page{Limit: 500}
	for {
		items, next, err := db.PublicOffers(ctx, "", page)
		if err != nil {
			return c, p, nil, err
		}
		for _, it := range items {
			if it.Offer.EligibleFor(c.Product) && p.Accepts(it.Offer.Town) {
				out = append(out, offerState(c, it.Offer, it.Merchant, uses[it.Offer.ID], now, db.TownLoc(it.Offer.Town)))
			}
		}
		if next == "" {
			return c, p, out, nil
		}
		page.Cursor = next
	}
}

// Void voids a redemption at town's merchants with a reason. With merchantID set, only that
// merchant's redemptions are found. A void of the redemption that activated its card, soon
// enough, also returns the card to not-yet-activated (see card.VoidUndoesActivation). Errors:
// merchant.ErrNotFound, merchant.ErrAlreadyVoided.
func (db *DB) Void(ctx context.Context, town, id, merchantID, reason string) (merchant.Redemption, error) {
	// Store exactly what was checked: the trimmed reason, never the padding around it.
	reason, err := merchant.CleanVoidReason(reason)
	if err != nil {
		return merchant.Redemption{}, err
	}
	var r merchant.Redemption
	defer func() { db.cache.cards.invalidate(r.CardNumber, r.CardNumber == "") }()
	err = db.update(ctx, func(tx *Tx) error {
		var err error
		if merchantID != "" {
			if err := tx.checkMerchantKey(merchantID); err != nil {
				return err
			}
		}
		// Locked: of voids racing on one redemption, the later ones wait here and then read
		// it voided.
		r, err = redemptionWhere(tx, `id = ?`+tx.forUpdate(), id)
		if err != nil || (merchantID != "" && r.MerchantID != merchantID) || (town != "" && r.Town != town) {
			return merchant.ErrNotFound
		}
		if r.VoidedAt != nil {
			return merchant.ErrAlreadyVoided
		}
		if r.ConflictReason != "" {
			return merchant.ErrConflictNotVoidable // the office's decision is final
		}
		res, err := tx.exec(`UPDATE redemptions SET voided_at = ?, void_reason = ? WHERE id = ? AND voided_at IS NULL`,
			ms(tx.Now), reason, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return merchant.ErrAlreadyVoided // another void won
		}
		now := tx.Now
		r.VoidedAt, r.VoidReason = &now, reason
		if err := bookVoid(tx, r); err != nil {
			return err
		}
		if err := undoActivation(tx, r.Town, r.CardID, r.CreatedAt); err != nil {
			return err
		}
		return tx.auditIn(r.Town, "redemption.void", id)
	})
	return r, err
}

// Redemption returns one redemption at town's merchants ("" for any town), or merchant.ErrNotFound.
func (db *DB) Redemption(ctx context.Context, town, id string) (merchant.Redemption, error) {
	return redemptionWhere(db.reader(ctx), `id = ? AND (? = '' OR town = ?)`, id, town, town)
}

func redemptionWhere(q querier, where string, args ...any) (merchant.Redemption, error) {
	r, _, err := scanRedemption(q.queryRow(`SELECT `+redemptionColumns+` FROM redemptions WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, merchant.ErrNotFound
	}
	return r, err
}

// RedemptionFilter narrows a list of redemptions. Zero values do not filter.
type RedemptionFilter struct {
	Town       string // the merchant's town ("" only with CardID: every use of one card)
	MerchantID string
	CardID     string
	From, To   time.Time // created_at in [From, To)
	Conflicts  bool      // only conflicts (status=conflict), decided or not
}

// Redemptions lists redemptions, newest first. A filter without Town or CardID is an error:
// a town's lists never show another town's rows, and a caller that forgot the town must fail.
func (db *DB) Redemptions(ctx context.Context, f RedemptionFilter, page Page) ([]merchant.Redemption, string, error) {
	if f.Town == "" && f.CardID == "" {
		return nil, "", errNoTown
	}
	to := int64(1) << 62
	if !f.To.IsZero() {
		to = ms(f.To)
	}
	// "town = ?" spelled out, not "? = '' OR", so the planner walks the (town, seq) index.
	town, args := `town = ?`, []any{f.Town}
	if f.Town == "" {
		town, args = `card_id = ?`, []any{f.CardID} // every use of one card
	}
	return list(db.reader(ctx), `SELECT `+redemptionColumns+` FROM redemptions
		WHERE `+town+` AND (? = '' OR merchant_id = ?) AND (? = '' OR card_id = ?) AND created_at >= ? AND created_at < ? AND (? = 0 OR conflict_reason IS NOT NULL) AND seq < ?
		ORDER BY seq DESC LIMIT ?`,
		append(args, f.MerchantID, f.MerchantID, f.CardID, f.CardID, ms(f.From), to, f.Conflicts), page, true,
		func(r *sql.Rows) (merchant.Redemption, int64, error) { return scanRedemption(r) })
}

func scanRedemption(s scanner) (merchant.Redemption, int64, error) {
	var r merchant.Redemption
	var seq, created int64
	var voided, recorded, decided sql.NullInt64
	var reason, decision sql.NullString
	err := s.Scan(&seq, &r.ID, &r.Town, &r.CardTown, &r.CardID, &r.CardNumber, &r.MerchantID, &r.OfferID, &r.Product, &r.Category, &r.Terminal,
		&r.Amount, &r.Discount, &r.MunicipalShare, &created, &voided, &r.VoidReason,
		&recorded, &r.Offline, &reason, &decided, &decision, &r.DecisionNote)
	r.CreatedAt, r.VoidedAt, r.DecidedAt = fromMS(created), fromNullMS(voided), fromNullMS(decided)
	r.RecordedAt = r.CreatedAt
	if recorded.Valid {
		r.RecordedAt = fromMS(recorded.Int64)
	}
	r.ConflictReason, r.Decision = reason.String, decision.String
	return r, seq, err
}

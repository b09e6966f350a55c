package storage

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// Personal data (issue 22, docs/privacy.md). A card's holder is personal data; so is what
// names a merchant's or an office's staff, and the client addresses in the audit log. The
// books (ledger, rollups, closed months) hold none: they name a card by its id and number,
// which after an erasure lead to no one, and an erasure never touches them.

// DataClass classifies a column of the schema for the inventory.
type DataClass string

// The classes of the inventory (docs/privacy.md says what each means for a municipality).
const (
	// NotPersonal holds nothing that names or identifies a person.
	NotPersonal DataClass = "not personal"
	// HolderData names or describes a card's holder: erased by EraseCard and the retention job.
	HolderData DataClass = "holder"
	// CardLink identifies a card, and so its holder only together with the card's holder data
	// (pseudonymous): kept for the books, it leads to no one once the card is erased.
	CardLink DataClass = "card link"
	// ClientData is the network address of a request's client: shortened after
	// CITYCARD_AUDIT_ADDRESS_DAYS.
	ClientData DataClass = "client"
	// StaffData names a merchant (a sole trader is a person), its staff, a device or an office
	// token's holder: kept while the merchant or token is, set and corrected by the office.
	StaffData DataClass = "staff"
)

// Inventory classifies every column of every table of both engines (table.column). A test
// (TestPersonalDataInventory) reads both schemas and fails on a column missing here, so a new
// column is classified before it ships; docs/privacy.md explains the classes to a DPO.
var Inventory = map[string]DataClass{
	"audit.seq": NotPersonal, "audit.actor": StaffData, "audit.action": NotPersonal, "audit.target": CardLink,
	"audit.request_id": NotPersonal, "audit.created_at": NotPersonal, "audit.client_request_id": NotPersonal,
	"audit.town": NotPersonal, "audit.client_addr": ClientData,

	"batches.seq": NotPersonal, "batches.id": NotPersonal, "batches.name": StaffData, "batches.name_key": StaffData,
	"batches.product_code": NotPersonal, "batches.count": NotPersonal, "batches.lang": NotPersonal,
	"batches.created_at": NotPersonal, "batches.town": NotPersonal,

	"cards.seq": NotPersonal, "cards.id": CardLink, "cards.number": CardLink, "cards.token": CardLink,
	"cards.product_code": NotPersonal, "cards.holder": HolderData, "cards.lang": NotPersonal,
	"cards.issued_at": NotPersonal, "cards.activate_by": NotPersonal, "cards.activated_at": NotPersonal,
	"cards.expires_at": NotPersonal, "cards.blocked_at": NotPersonal, "cards.block_reason": HolderData,
	"cards.batch_id": NotPersonal, "cards.town": NotPersonal, "cards.erased_at": NotPersonal, "cards.erase_reason": NotPersonal,

	"checkpoint_keys.kid": NotPersonal, "checkpoint_keys.private_key": NotPersonal, "checkpoint_keys.public_key": NotPersonal,
	"checkpoint_keys.created_at": NotPersonal,

	"idempotency_keys.merchant_id": NotPersonal, "idempotency_keys.key": NotPersonal, "idempotency_keys.fingerprint": NotPersonal,
	"idempotency_keys.redemption_id": CardLink, "idempotency_keys.created_at": NotPersonal,

	"leases.name": NotPersonal, "leases.holder": NotPersonal, "leases.expires_at": NotPersonal,

	"ledger.town": NotPersonal, "ledger.seq": NotPersonal, "ledger.version": NotPersonal, "ledger.kind": NotPersonal,
	"ledger.redemption_id": CardLink, "ledger.card_id": CardLink, "ledger.card_number": CardLink, "ledger.card_town": NotPersonal,
	"ledger.merchant_id": NotPersonal, "ledger.offer_id": NotPersonal, "ledger.terminal": StaffData,
	"ledger.product_code": NotPersonal, "ledger.category": NotPersonal, "ledger.amount_cents": NotPersonal,
	"ledger.discount_cents": NotPersonal, "ledger.share_cents": NotPersonal, "ledger.created_at": NotPersonal,
	"ledger.at": NotPersonal, "ledger.month": NotPersonal, "ledger.reason": StaffData, "ledger.hash": NotPersonal,

	"ledger_checkpoints.seq": NotPersonal, "ledger_checkpoints.entries": NotPersonal, "ledger_checkpoints.head": NotPersonal,
	"ledger_checkpoints.signed_at": NotPersonal, "ledger_checkpoints.kid": NotPersonal, "ledger_checkpoints.signature": NotPersonal,
	"ledger_checkpoints.reason": NotPersonal, "ledger_checkpoints.town": NotPersonal, "ledger_checkpoints.version": NotPersonal,

	"ledger_heads.town": NotPersonal, "ledger_heads.seq": NotPersonal, "ledger_heads.hash": NotPersonal,

	"merchant_keys.key_hash": NotPersonal, "merchant_keys.merchant_id": NotPersonal, "merchant_keys.created_at": NotPersonal,

	"merchants.seq": NotPersonal, "merchants.id": NotPersonal, "merchants.name": StaffData, "merchants.category": NotPersonal,
	"merchants.address": StaffData, "merchants.lat": StaffData, "merchants.lon": StaffData, "merchants.status": NotPersonal,
	"merchants.key_hash": NotPersonal, "merchants.created_at": NotPersonal, "merchants.updated_at": NotPersonal,
	"merchants.tax_number": StaffData, "merchants.iban": StaffData, "merchants.town": NotPersonal,

	"month_closes.town": NotPersonal, "month_closes.month": NotPersonal, "month_closes.closed_at": NotPersonal,
	"month_closes.report": NotPersonal, "month_closes.sha256": NotPersonal, "month_closes.ledger_head": NotPersonal,
	"month_closes.ledger_entries": NotPersonal,

	"offers.seq": NotPersonal, "offers.id": NotPersonal, "offers.merchant_id": NotPersonal, "offers.title_json": NotPersonal,
	"offers.kind": NotPersonal, "offers.value": NotPersonal, "offers.max_discount_cents": NotPersonal,
	"offers.min_amount_cents": NotPersonal, "offers.limit_kind": NotPersonal, "offers.products_json": NotPersonal,
	"offers.valid_from": NotPersonal, "offers.valid_until": NotPersonal, "offers.municipal_share_bp": NotPersonal,
	"offers.active": NotPersonal, "offers.created_at": NotPersonal, "offers.updated_at": NotPersonal, "offers.town": NotPersonal,

	"office_tokens.seq": NotPersonal, "office_tokens.id": NotPersonal, "office_tokens.town": NotPersonal,
	"office_tokens.label": StaffData, "office_tokens.token_hash": NotPersonal, "office_tokens.created_at": NotPersonal,
	"office_tokens.last_used_at": NotPersonal, "office_tokens.revoked_at": NotPersonal,

	"pairings.code_hash": NotPersonal, "pairings.merchant_id": NotPersonal, "pairings.created_at": NotPersonal,
	"pairings.expires_at": NotPersonal, "pairings.used_at": NotPersonal,

	"product_codes.town": NotPersonal, "product_codes.code": NotPersonal, "product_codes.product_seq": NotPersonal,
	"product_towns.product_seq": NotPersonal, "product_towns.town": NotPersonal,

	"products.seq": NotPersonal, "products.code": NotPersonal, "products.name_json": NotPersonal,
	"products.validity_hours": NotPersonal, "products.validity_days": NotPersonal, "products.price_cents": NotPersonal,
	"products.audience": NotPersonal, "products.activation_deadline_days": NotPersonal, "products.created_at": NotPersonal,
	"products.town": NotPersonal,

	"redemptions.seq": NotPersonal, "redemptions.id": CardLink, "redemptions.card_id": CardLink,
	"redemptions.card_number": CardLink, "redemptions.merchant_id": NotPersonal, "redemptions.offer_id": NotPersonal,
	"redemptions.product_code": NotPersonal, "redemptions.category": NotPersonal, "redemptions.terminal": StaffData,
	"redemptions.amount_cents": NotPersonal, "redemptions.discount_cents": NotPersonal, "redemptions.share_cents": NotPersonal,
	"redemptions.limit_key": CardLink, "redemptions.created_at": NotPersonal, "redemptions.voided_at": NotPersonal,
	"redemptions.void_reason": StaffData, "redemptions.town": NotPersonal, "redemptions.card_town": NotPersonal,
	"redemptions.recorded_at": NotPersonal, "redemptions.offline": NotPersonal, "redemptions.conflict_reason": NotPersonal,
	"redemptions.decided_at": NotPersonal, "redemptions.decision": NotPersonal, "redemptions.decision_note": StaffData,

	"rollup_card_uses.town": NotPersonal, "rollup_card_uses.month": NotPersonal, "rollup_card_uses.scope": NotPersonal,
	"rollup_card_uses.key": NotPersonal, "rollup_card_uses.card_id": CardLink, "rollup_card_uses.uses": NotPersonal,
	"rollup_cards.town": NotPersonal, "rollup_cards.month": NotPersonal, "rollup_cards.scope": NotPersonal,
	"rollup_cards.key": NotPersonal, "rollup_cards.cards": NotPersonal,

	"rollup_days.town": NotPersonal, "rollup_days.date": NotPersonal, "rollup_days.merchant_id": NotPersonal,
	"rollup_days.offer_id": NotPersonal, "rollup_days.product_code": NotPersonal, "rollup_days.category": NotPersonal,
	"rollup_days.redemptions": NotPersonal, "rollup_days.voided": NotPersonal, "rollup_days.amount_cents": NotPersonal,
	"rollup_days.discount_cents": NotPersonal, "rollup_days.share_cents": NotPersonal, "rollup_days.adjustments": NotPersonal,
	"rollup_days.adj_amount_cents": NotPersonal, "rollup_days.adj_discount_cents": NotPersonal, "rollup_days.adj_share_cents": NotPersonal,

	"rollup_months.town": NotPersonal, "rollup_months.month": NotPersonal, "rollup_months.merchant_id": NotPersonal,
	"rollup_months.category": NotPersonal, "rollup_months.product_code": NotPersonal, "rollup_months.card_town": NotPersonal,
	"rollup_months.last_date": NotPersonal, "rollup_months.redemptions": NotPersonal, "rollup_months.voided": NotPersonal,
	"rollup_months.amount_cents": NotPersonal, "rollup_months.discount_cents": NotPersonal, "rollup_months.share_cents": NotPersonal,
	"rollup_months.adjustments": NotPersonal, "rollup_months.adj_amount_cents": NotPersonal,
	"rollup_months.adj_discount_cents": NotPersonal, "rollup_months.adj_share_cents": NotPersonal,

	"schema_migrations.version": NotPersonal, "schema_migrations.name": NotPersonal, "schema_migrations.applied_at": NotPersonal,
	"settings.key": NotPersonal, "settings.value": NotPersonal,
	"signing_keys.kid": NotPersonal, "signing_keys.private_key": NotPersonal, "signing_keys.public_key": NotPersonal,
	"signing_keys.created_at": NotPersonal, "signing_keys.activates_at": NotPersonal,

	"towns.code": NotPersonal, "towns.name": NotPersonal, "towns.timezone": NotPersonal, "towns.languages": NotPersonal,
	"towns.public_url": NotPersonal, "towns.rollup_zone": NotPersonal, "towns.created_at": NotPersonal,
	"towns.card_name": NotPersonal, "towns.color": NotPersonal, "towns.privacy": StaffData, // the controller's contact may name its officer

	// Wallet passes (docs/wallet.md): a device that registered the card's pass, and the
	// pushes queued to it (a delivered push's token is cleared).
	"wallet_passes.card_id": CardLink, "wallet_passes.auth_hash": CardLink, "wallet_passes.state": NotPersonal,
	"wallet_passes.google": NotPersonal, "wallet_passes.tag": NotPersonal, "wallet_passes.due_at": NotPersonal,
	"wallet_passes.created_at":       NotPersonal,
	"wallet_registrations.device_id": HolderData, "wallet_registrations.card_id": CardLink,
	"wallet_registrations.push_token": HolderData, "wallet_registrations.created_at": NotPersonal,
	"wallet_outbox.seq": NotPersonal, "wallet_outbox.card_id": CardLink, "wallet_outbox.kind": NotPersonal,
	"wallet_outbox.target": HolderData, "wallet_outbox.reason": NotPersonal, "wallet_outbox.attempts": NotPersonal,
	"wallet_outbox.next_at": NotPersonal, "wallet_outbox.claimed_by": NotPersonal, "wallet_outbox.claimed_until": NotPersonal,
	"wallet_outbox.last_error": NotPersonal, "wallet_outbox.created_at": NotPersonal, "wallet_outbox.delivered_at": NotPersonal,
}

// MaxEraseReason bounds an erasure's reason, in characters.
const MaxEraseReason = 500

// PersonalData is everything stored about a card's holder (GET /cards/{id}/personal-data):
// the card, its redemptions and the audit events naming it or its redemptions.
type PersonalData struct {
	Card        card.Card
	Redemptions []HolderRedemption
	Audit       []AuditEntry
	Wallet      []WalletRegistration // the devices that registered the card's pass
}

// HolderRedemption is one use of the card as its holder sees it.
type HolderRedemption struct {
	ID           string
	At           time.Time
	MerchantName string
	Amount       int64 // cents
	Discount     int64 // cents
	Voided       bool
	Offline      bool
	Conflict     bool
}

// CardPersonalData returns what is stored about the holder of town's card id, or
// card.ErrNotFound (another town's card too). It reads one snapshot.
func (db *DB) CardPersonalData(ctx context.Context, town, id string) (PersonalData, error) {
	var out PersonalData
	r, done, err := db.snapshot(ctx)
	if err != nil {
		return out, err
	}
	defer done()
	if out.Card, err = cardWhere(r, `id = ?`, id); err != nil {
		return out, err
	}
	if out.Card.Town != town {
		return PersonalData{}, card.ErrNotFound
	}
	rows, err := r.query(`SELECT r.id, r.created_at, m.name, r.amount_cents, r.discount_cents, r.voided_at IS NOT NULL, r.offline, r.conflict_reason IS NOT NULL
		FROM redemptions r JOIN merchants m ON m.id = r.merchant_id WHERE r.card_id = ? ORDER BY r.seq`, id)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	targets := []any{id}
	for rows.Next() {
		var h HolderRedemption
		var at int64
		var voided, conflict bool
		var offline int64
		if err := rows.Scan(&h.ID, &at, &h.MerchantName, &h.Amount, &h.Discount, &voided, &offline, &conflict); err != nil {
			return out, err
		}
		h.At, h.Voided, h.Offline, h.Conflict = fromMS(at), voided, offline != 0, conflict
		out.Redemptions = append(out.Redemptions, h)
		targets = append(targets, h.ID)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	wrows, err := r.query(`SELECT device_id, push_token, created_at FROM wallet_registrations WHERE card_id = ? ORDER BY created_at, device_id`, id)
	if err != nil {
		return out, err
	}
	defer wrows.Close()
	for wrows.Next() {
		var w WalletRegistration
		var at int64
		if err := wrows.Scan(&w.DeviceID, &w.PushToken, &at); err != nil {
			return out, err
		}
		w.CreatedAt = fromMS(at)
		out.Wallet = append(out.Wallet, w)
	}
	if err := wrows.Err(); err != nil {
		return out, err
	}
	// In chunks: SQLite bounds the number of parameters of one statement.
	for start := 0; start < len(targets); start += 250 {
		chunk := targets[start:min(start+250, len(targets))]
		arows, err := r.query(`SELECT coalesce(town, ''), actor, action, target, request_id, client_request_id, created_at FROM audit
			WHERE target IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) ORDER BY seq`, chunk...)
		if err != nil {
			return out, err
		}
		for arows.Next() {
			var e AuditEntry
			var at int64
			if err := arows.Scan(&e.Town, &e.Actor, &e.Action, &e.Target, &e.RequestID, &e.ClientRequestID, &at); err != nil {
				arows.Close()
				return out, err
			}
			e.CreatedAt = fromMS(at)
			out.Audit = append(out.Audit, e)
		}
		arows.Close()
		if err := arows.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// EraseCard erases the personal data of town's card id (its holder and block reason) for
// reason, exactly once: card.ErrErased if it was erased before, card.ErrNotFound for no card
// of town's, card.ErrInvalidInput for an empty or overlong reason. The card keeps working;
// the ledger, rollups and closed months are not touched (they hold no personal data). The
// audit entry ("card.erase") names the card only. On SQLite the write-ahead log is then
// checkpointed and emptied, so the erased bytes are in no file (secure_delete zeroes them in
// the database file); if readers hold the log past a few seconds, that is logged, and the
// erasure stands.
func (db *DB) EraseCard(ctx context.Context, town, id, reason string) (card.Card, error) {
	reason, err := card.CleanText("reason", reason, MaxEraseReason, true)
	if err != nil {
		return card.Card{}, err
	}
	var c card.Card
	err = db.update(ctx, func(tx *Tx) error {
		ok, err := eraseCard(tx, town, id, reason)
		if err != nil {
			return err
		}
		if !ok {
			// Nothing changed: no card of town's, or one erased already (maybe just now by
			// another write).
			if c, err = cardWhere(tx, `id = ?`, id); err != nil {
				return err
			}
			if c.Town != town {
				return card.ErrNotFound
			}
			return card.ErrErased
		}
		c, err = cardWhere(tx, `id = ?`, id)
		return err
	})
	db.cache.cards.invalidate(c.Number, c.Number == "")
	if err != nil {
		return card.Card{}, err
	}
	// The erasure is committed: a log that long readers keep from truncating now is said, not
	// failed (the next erasure or retention run truncates it).
	if err := db.scrub(ctx); err != nil {
		slog.Warn("erase: the write-ahead log still holds the old row", "card", id, "err", err)
	}
	return c, nil
}

// eraseCard is the erasure inside tx: a conditional write (only a card not yet erased) whose
// affected rows say whether this write erased it. Every place holding the holder's data is
// emptied here, in the same transaction.
func eraseCard(tx *Tx, town, id, reason string) (bool, error) {
	res, err := tx.exec(`UPDATE cards SET holder = '', block_reason = '', erased_at = ?, erase_reason = ? WHERE id = ? AND town = ? AND erased_at IS NULL`,
		ms(tx.Now), reason, id, town)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	// The wallets holding the card's pass are told to fetch it again (their pushes are queued
	// with the devices' push tokens, which a delivery clears), then its wallet registrations
	// (device ids, push tokens) are deleted, in this transaction.
	if err := queueWalletUpdate(tx, id, "erase"); err != nil {
		return false, err
	}
	if _, err := deleteWalletRegistrations(tx, id); err != nil {
		return false, err
	}
	return true, tx.auditIn(town, "card.erase", id)
}

// scrubber is an engine that can drop old versions of rows from its files (SQLite: its
// write-ahead log, checkpointed and truncated).
type scrubber interface {
	Scrub(ctx context.Context) error
}

// scrub asks the engine to drop the old versions of erased rows from its files, if it keeps
// them in a place of its own (SQLite's write-ahead log). PostgreSQL's dead row versions are
// reclaimed by its autovacuum (docs/privacy.md).
func (db *DB) scrub(ctx context.Context) error {
	if s, ok := db.eng.(scrubber); ok {
		return s.Scrub(ctx)
	}
	return nil
}

// ErrLeaseHeld is a job's lease held by another instance.
var ErrLeaseHeld = errors.New("the job runs on another instance")

// ClaimLease claims the lease of job name for holder until ttl from now: true if holder has it
// (a free or expired lease, or holder's own, renewed), false if another holder's is live. A
// conditional write whose affected rows are checked, so of several instances one wins.
func (db *DB) ClaimLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var won bool
	err := db.update(ctx, func(tx *Tx) error {
		if err := tx.execDeferred(`INSERT INTO leases (name) VALUES (?) ON CONFLICT DO NOTHING`, name); err != nil {
			return err
		}
		res, err := tx.exec(`UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (expires_at <= ? OR holder = ?)`,
			holder, ms(tx.Now.Add(ttl)), name, ms(tx.Now), holder)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	return won, err
}

// ReleaseLease gives up holder's lease of job name (nothing if it is not holder's).
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
}

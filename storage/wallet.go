package storage

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// Wallet passes (docs/wallet.md): the passes handed out, the devices registered for their
// updates, and the outbox of pushes (APNs) and object updates (Google) that a background
// worker delivers. A redemption writes nothing here: a pass remembers the card state it last
// showed (wallet_passes.state), and the worker's sweep (WalletSweep) finds the passes whose
// card has since been activated or has expired. A block or unblock queues its updates in its
// own transaction (SetBlocked); an erasure calls QueueWalletUpdate and
// DeleteWalletRegistrations.

// ErrWalletAuth is a PassKit web service request whose pass is unknown or whose
// authentication token is not the pass's.
var ErrWalletAuth = errors.New("wallet pass authentication failed")

// Outbox kinds.
const (
	WalletAPNs   = "apns"   // a push to one device's push token
	WalletGoogle = "google" // a PATCH of the card's Google Wallet object
)

// WalletPass is a card's pass as stored: the state it last showed and when that changed.
type WalletPass struct {
	CardID   string
	AuthHash string // hex SHA-256 of the authentication token
	State    card.Status
	Google   bool      // a Google Wallet link was made: its object is updated on a change
	Tag      time.Time // the last change: Apple's Last-Modified and passesUpdatedSince tag
}

// WalletDelivery is one queued push or object update.
type WalletDelivery struct {
	Seq      int64
	CardID   string
	Kind     string // WalletAPNs or WalletGoogle
	Target   string // the push token (APNs)
	Reason   string // the state shown, or what queued it (erase, …)
	Attempts int
}

// walletState is the state a card's pass shows at now.
func walletState(c card.Card, now time.Time) card.Status { return c.Status(now) }

// walletDue is when card c, in state st, changes state by itself next (wallet_passes.due_at):
// an issued card at its activation deadline, an active one at the end of its validity; never
// (NULL) a blocked or expired one.
func walletDue(c card.Card, st card.Status) sql.NullInt64 {
	switch {
	case st == card.StatusIssued:
		return sql.NullInt64{Int64: ms(c.ActivateBy), Valid: true}
	case st == card.StatusActive && c.ExpiresAt != nil:
		return sql.NullInt64{Int64: ms(*c.ExpiresAt), Valid: true}
	}
	return sql.NullInt64{}
}

// walletActivationWindow is how far back the sweep looks for activations: an offline sale
// activates a card at its occurred_at, up to merchant.OfflineMaxHours before it is recorded.
const walletActivationWindow = (merchant.OfflineMaxHours + 1) * time.Hour

// WalletPassFor returns the card's pass, recording it first if the card had none, with
// authHash (the hex SHA-256 of its authentication token) and the card's state at now.
// google marks that a Google Wallet link was made. card.ErrNotFound for an unknown card.
func (db *DB) WalletPassFor(ctx context.Context, cardID, authHash string, google bool) (WalletPass, error) {
	// Most fetches find the pass recorded: a read, no write.
	p, err := walletPass(db.reader(ctx), cardID)
	if err == nil && (p.Google || !google) {
		return p, nil
	}
	if err != nil && !errors.Is(err, card.ErrNotFound) {
		return p, err
	}
	err = db.update(ctx, func(tx *Tx) error {
		c, err := cardWhere(tx, `id = ?`, cardID)
		if err != nil {
			return err
		}
		g := 0
		if google {
			g = 1
		}
		st := walletState(c, tx.Now)
		if _, err := tx.exec(`INSERT INTO wallet_passes (card_id, auth_hash, state, google, tag, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			cardID, authHash, string(st), g, ms(tx.Now), walletDue(c, st), ms(tx.Now)); err != nil {
			return err
		}
		if google {
			if _, err := tx.exec(`UPDATE wallet_passes SET google = 1 WHERE card_id = ? AND google = 0`, cardID); err != nil {
				return err
			}
		}
		p, err = walletPass(tx, cardID)
		return err
	})
	return p, err
}

// WalletPass returns the card's pass if its authentication token hashes to authHash, else
// ErrWalletAuth (also for a card with no pass).
func (db *DB) WalletPass(ctx context.Context, cardID, authHash string) (WalletPass, error) {
	p, err := walletPass(db.reader(ctx), cardID)
	if errors.Is(err, card.ErrNotFound) || (err == nil && p.AuthHash != authHash) {
		return WalletPass{}, ErrWalletAuth
	}
	return p, err
}

func walletPass(q querier, cardID string) (WalletPass, error) {
	p := WalletPass{CardID: cardID}
	var state string
	var google int
	var tag int64
	err := q.queryRow(`SELECT auth_hash, state, google, tag FROM wallet_passes WHERE card_id = ?`, cardID).Scan(&p.AuthHash, &state, &google, &tag)
	if errors.Is(err, sql.ErrNoRows) {
		return p, card.ErrNotFound
	}
	p.State, p.Google, p.Tag = card.Status(state), google == 1, fromMS(tag)
	return p, err
}

// RegisterWalletDevice registers deviceID for the updates of the card's pass with its push
// token (a second registration updates the token). It reports whether the registration is
// new (Apple: 201, else 200).
func (db *DB) RegisterWalletDevice(ctx context.Context, deviceID, cardID, pushToken string) (created bool, err error) {
	err = db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`INSERT INTO wallet_registrations (device_id, card_id, push_token, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			deviceID, cardID, pushToken, ms(tx.Now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			created = true
			return nil
		}
		created = false
		_, err = tx.exec(`UPDATE wallet_registrations SET push_token = ? WHERE device_id = ? AND card_id = ?`, pushToken, deviceID, cardID)
		return err
	})
	return created, err
}

// UnregisterWalletDevice removes deviceID's registration for the card's pass; it reports
// whether there was one.
func (db *DB) UnregisterWalletDevice(ctx context.Context, deviceID, cardID string) (bool, error) {
	var found bool
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`DELETE FROM wallet_registrations WHERE device_id = ? AND card_id = ?`, deviceID, cardID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		found = n > 0
		return err
	})
	return found, err
}

// WalletSerialsSince lists the cards (serial numbers) deviceID registered whose pass changed
// after since (zero: all), and the newest change among them (Apple's lastUpdated tag).
func (db *DB) WalletSerialsSince(ctx context.Context, deviceID string, since time.Time) ([]string, time.Time, error) {
	rows, err := db.reader(ctx).query(`SELECT p.card_id, p.tag FROM wallet_registrations r JOIN wallet_passes p ON p.card_id = r.card_id
		WHERE r.device_id = ? AND p.tag > ? ORDER BY p.card_id`, deviceID, ms(since))
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	var out []string
	var last int64
	for rows.Next() {
		var id string
		var tag int64
		if err := rows.Scan(&id, &tag); err != nil {
			return nil, time.Time{}, err
		}
		out, last = append(out, id), max(last, tag)
	}
	return out, fromMS(last), rows.Err()
}

// WalletRegistration is a device registered for the updates of a card's pass.
type WalletRegistration struct {
	DeviceID  string
	PushToken string
	CreatedAt time.Time
}

// WalletRegistrations lists the devices registered for the card's pass, oldest first (for
// the export of a holder's personal data).
func (db *DB) WalletRegistrations(ctx context.Context, cardID string) ([]WalletRegistration, error) {
	rows, err := db.reader(ctx).query(`SELECT device_id, push_token, created_at FROM wallet_registrations WHERE card_id = ? ORDER BY created_at, device_id`, cardID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WalletRegistration
	for rows.Next() {
		var r WalletRegistration
		var at int64
		if err := rows.Scan(&r.DeviceID, &r.PushToken, &at); err != nil {
			return nil, err
		}
		r.CreatedAt = fromMS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ForgetWalletPushToken removes the registrations of the card's pass with pushToken: APNs
// said the token is no longer valid (410). It returns how many there were.
func (db *DB) ForgetWalletPushToken(ctx context.Context, cardID, pushToken string) (int, error) {
	var n int64
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`DELETE FROM wallet_registrations WHERE card_id = ? AND push_token = ?`, cardID, pushToken)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// DeleteWalletRegistrations removes every device registration of the card's pass (for the
// erasure of its personal data: a push token names a person's device) and returns how many
// there were. Queue the final update first (QueueWalletUpdate) if the devices should hear of it.
func (db *DB) DeleteWalletRegistrations(ctx context.Context, cardID string) (int, error) {
	var n int
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		n, err = deleteWalletRegistrations(tx, cardID)
		return err
	})
	return n, err
}

// deleteWalletRegistrations is DeleteWalletRegistrations inside tx.
func deleteWalletRegistrations(tx *Tx, cardID string) (int, error) {
	res, err := tx.exec(`DELETE FROM wallet_registrations WHERE card_id = ?`, cardID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// QueueWalletUpdate tells every wallet holding the card's pass to fetch it again: it marks
// the pass changed now and queues a push to each registered device and, if a Google Wallet
// link was made, an update of its object, all in one write; reason is recorded with them
// (e.g. "erase"). A card without a pass queues nothing. For changes the card's state does not
// show (an erasure); a state change (activation, block, expiry) is found by itself.
func (db *DB) QueueWalletUpdate(ctx context.Context, cardID, reason string) error {
	return db.update(ctx, func(tx *Tx) error { return queueWalletUpdate(tx, cardID, reason) })
}

// queueWalletUpdate is QueueWalletUpdate inside tx, for a write that changes the card.
func queueWalletUpdate(tx *Tx, cardID, reason string) error {
	c, err := cardWhere(tx, `id = ?`, cardID)
	if err != nil {
		return err
	}
	st := walletState(c, tx.Now)
	res, err := tx.exec(`UPDATE wallet_passes SET state = ?, tag = ?, due_at = ? WHERE card_id = ?`, string(st), ms(tx.Now), walletDue(c, st), cardID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // no pass: nobody to tell
	}
	return enqueueWalletUpdates(tx, cardID, reason)
}

// walletStateChanged records the card's new state on its pass, if it has one showing
// another, and queues the updates. The UPDATE is conditional on the state it leaves, so of
// two writes that see the same change (a sweep on each of two instances, or a sweep and a
// block) exactly one queues them.
func walletStateChanged(tx *Tx, c card.Card, shown card.Status) (bool, error) {
	now := walletState(c, tx.Now)
	if now == shown {
		return false, nil
	}
	res, err := tx.exec(`UPDATE wallet_passes SET state = ?, tag = ?, due_at = ? WHERE card_id = ? AND state = ?`,
		string(now), ms(tx.Now), walletDue(c, now), c.ID, string(shown))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	return true, enqueueWalletUpdates(tx, c.ID, string(now))
}

// walletCardChanged is walletStateChanged for a write that just changed card c (a block):
// it reads the state the pass shows in tx.
func walletCardChanged(tx *Tx, c card.Card) error {
	var shown string
	err := tx.queryRow(`SELECT state FROM wallet_passes WHERE card_id = ?`, c.ID).Scan(&shown)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = walletStateChanged(tx, c, card.Status(shown))
	return err
}

func enqueueWalletUpdates(tx *Tx, cardID, reason string) error {
	if _, err := tx.exec(`INSERT INTO wallet_outbox (card_id, kind, target, reason, next_at, created_at)
		SELECT card_id, 'apns', push_token, ?, ?, ? FROM wallet_registrations WHERE card_id = ?`, reason, ms(tx.Now), ms(tx.Now), cardID); err != nil {
		return err
	}
	_, err := tx.exec(`INSERT INTO wallet_outbox (card_id, kind, target, reason, next_at, created_at)
		SELECT card_id, 'google', '', ?, ?, ? FROM wallet_passes WHERE card_id = ? AND google = 1`, reason, ms(tx.Now), ms(tx.Now), cardID)
	return err
}

// WalletSweep finds the passes whose card changed by itself since they were last updated (a
// first redemption activated it; its validity or activation deadline passed) and queues
// their updates; it returns how many passes changed. It reads by index only what may have
// changed, at most limit of each kind: the passes due (wallet_passes.due_at) and the cards
// activated within walletActivationWindow whose pass still shows them issued. Safe on
// several instances at once: each change is queued by exactly one of them.
func (db *DB) WalletSweep(ctx context.Context, limit int) (int, error) {
	now := db.Now()
	cols := `p.state, c.` + strings.ReplaceAll(cardColumns, ", ", ", c.")
	type seen struct {
		c     card.Card
		shown card.Status
	}
	var changed []seen
	got := map[string]bool{}
	type query struct {
		sql  string
		args []any
	}
	queries := []query{{`SELECT ` + cols + ` FROM wallet_passes p JOIN cards c ON c.id = p.card_id WHERE p.due_at <= ? ORDER BY p.due_at LIMIT ?`,
		[]any{ms(now), limit}}}
	// Per town, on the index cards (town, activated_at); CROSS JOIN makes SQLite read the
	// cards first (PostgreSQL plans it as any join).
	for _, town := range db.TownCodes() {
		queries = append(queries, query{`SELECT ` + cols + ` FROM cards c CROSS JOIN wallet_passes p
			WHERE c.town = ? AND c.activated_at >= ? AND p.card_id = c.id AND p.state = 'issued' LIMIT ?`,
			[]any{town, ms(now.Add(-walletActivationWindow)), limit}})
	}
	for _, q := range queries {
		rows, err := db.reader(ctx).query(q.sql, q.args...)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var shown string
			c, _, err := scanCard(prefixScanner{rows, &shown})
			if err != nil {
				rows.Close()
				return 0, err
			}
			if !got[c.ID] && walletState(c, now) != card.Status(shown) {
				got[c.ID] = true
				changed = append(changed, seen{c, card.Status(shown)})
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return 0, err
		}
	}
	if len(changed) == 0 {
		return 0, nil
	}
	n := 0
	err := db.update(ctx, func(tx *Tx) error {
		n = 0
		for _, s := range changed {
			// Read again in the write: the card may have changed since (a void undoing the
			// activation); the conditional update decides who queues.
			c, err := cardWhere(tx, `id = ?`, s.c.ID)
			if err != nil {
				return err
			}
			ok, err := walletStateChanged(tx, c, s.shown)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, err
}

// prefixScanner scans a row whose first column is first and whose others are s's.
type prefixScanner struct {
	s     scanner
	first any
}

func (p prefixScanner) Scan(dst ...any) error { return p.s.Scan(append([]any{p.first}, dst...)...) }

// ClaimWalletDeliveries claims up to n queued deliveries that are due for worker, each for
// lease (another worker takes it over only after that). A claim is a conditional UPDATE
// whose affected rows are checked, so on several instances each row goes to one worker.
func (db *DB) ClaimWalletDeliveries(ctx context.Context, worker string, n int, lease time.Duration) ([]WalletDelivery, error) {
	now := db.Now()
	rows, err := db.reader(ctx).query(`SELECT seq, card_id, kind, target, reason, attempts FROM wallet_outbox
		WHERE delivered_at IS NULL AND next_at <= ? AND claimed_until <= ? ORDER BY next_at, seq LIMIT ?`, ms(now), ms(now), n)
	if err != nil {
		return nil, err
	}
	var due []WalletDelivery
	for rows.Next() {
		var d WalletDelivery
		if err := rows.Scan(&d.Seq, &d.CardID, &d.Kind, &d.Target, &d.Reason, &d.Attempts); err != nil {
			rows.Close()
			return nil, err
		}
		due = append(due, d)
	}
	err = rows.Err()
	rows.Close()
	if err != nil || len(due) == 0 {
		return nil, err
	}
	var out []WalletDelivery
	err = db.update(ctx, func(tx *Tx) error {
		out = out[:0]
		for _, d := range due {
			res, err := tx.exec(`UPDATE wallet_outbox SET claimed_by = ?, claimed_until = ? WHERE seq = ? AND delivered_at IS NULL AND claimed_until <= ?`,
				worker, ms(tx.Now.Add(lease)), d.Seq, ms(tx.Now))
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil {
				return err
			} else if k == 1 {
				out = append(out, d)
			}
		}
		return nil
	})
	return out, err
}

// WalletDelivered records worker's delivery of the claimed row seq. It reports false if the
// claim was lost (the lease ran out and another worker took the row).
func (db *DB) WalletDelivered(ctx context.Context, seq int64, worker string) (bool, error) {
	var ok bool
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE wallet_outbox SET delivered_at = ?, attempts = attempts + 1, claimed_until = 0, last_error = '', target = ''
			WHERE seq = ? AND claimed_by = ? AND delivered_at IS NULL`, ms(tx.Now), seq, worker)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, err
}

// WalletDeliveryFailed records a failed attempt of worker's claimed row seq and releases it
// for another attempt at retryAt.
func (db *DB) WalletDeliveryFailed(ctx context.Context, seq int64, worker, why string, retryAt time.Time) error {
	if len(why) > 500 {
		why = why[:500]
	}
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`UPDATE wallet_outbox SET attempts = attempts + 1, next_at = ?, claimed_until = 0, last_error = ?
			WHERE seq = ? AND claimed_by = ? AND delivered_at IS NULL`, ms(retryAt), why, seq, worker)
		return err
	})
}

// WalletOutboxPending is the number of queued deliveries not yet made (for metrics and tests).
func (db *DB) WalletOutboxPending(ctx context.Context) (int, error) {
	var n int
	err := db.reader(ctx).queryRow(`SELECT count(*) FROM wallet_outbox WHERE delivered_at IS NULL`).Scan(&n)
	return n, err
}

package storage

import (
	"github.com/citycard/citycard/storage/postgres"

	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// Town is one town of the network: its office, merchants, products, reports and ledger are
// its own. Timezone replaces CITYCARD_TZ for everything calendar-based in the town.
type Town struct {
	Code      string
	Name      map[string]string // by language
	Timezone  string
	Languages []string // ⊆ sl, it, en, de; the town's own first
	PublicURL string   // base of its cards' QR URLs
	// CardName is the name of the town's card by language, as set; CardNames fills in the
	// languages not set.
	CardName map[string]string
	// Color is the town's colour, #rrggbb; "" reads as DefaultTownColor.
	Color string
	// Privacy names the controller of the card's personal data for the town's privacy
	// notice; the zero value is not filled in (the notice names the municipality).
	Privacy   TownPrivacy
	CreatedAt time.Time
}

// TownPrivacy is the controller of a town's personal data as its privacy notice names it:
// who (the municipality, or whoever runs the card for it), its postal address, and the e-mail
// address or web address where a person exercises their rights.
type TownPrivacy struct {
	Controller string `json:"controller,omitempty"`
	Address    string `json:"address,omitempty"`
	Contact    string `json:"contact,omitempty"`
}

// IsSet reports whether the town's privacy fields are filled in.
func (p TownPrivacy) IsSet() bool { return p != TownPrivacy{} }

// Longest privacy fields, in characters.
const (
	maxPrivacyController = 200
	maxPrivacyAddress    = 300
	maxPrivacyContact    = 200
)

// ContactIsEmail reports whether the contact is an e-mail address (else it is a URL).
func (p TownPrivacy) ContactIsEmail() bool { return validEmail(p.Contact) }

// validate trims and checks the privacy fields: all empty (not filled in), or a controller
// and a contact, each of bounded length without control characters, the contact an e-mail
// address (name@example.si) or an http(s) URL. Errors wrap card.ErrInvalidInput and name the
// field (privacy.contact).
func (p *TownPrivacy) validate() error {
	var err error
	if p.Controller, err = card.CleanText("privacy.controller", p.Controller, maxPrivacyController, false); err != nil {
		return err
	}
	if p.Address, err = card.CleanText("privacy.address", p.Address, maxPrivacyAddress, false); err != nil {
		return err
	}
	if p.Contact, err = card.CleanText("privacy.contact", p.Contact, maxPrivacyContact, false); err != nil {
		return err
	}
	if !p.IsSet() {
		return nil
	}
	if p.Controller == "" {
		return fmt.Errorf("%w: privacy.controller is required with the other privacy fields (1 to %d characters)", card.ErrInvalidInput, maxPrivacyController)
	}
	if p.Contact == "" {
		return fmt.Errorf("%w: privacy.contact is required with the other privacy fields: an e-mail address or an https:// URL", card.ErrInvalidInput)
	}
	if !validEmail(p.Contact) && !validWebURL(p.Contact) {
		return fmt.Errorf("%w: privacy.contact must be an e-mail address (name@example.si) or a URL starting with https:// or http://", card.ErrInvalidInput)
	}
	return nil
}

// validEmail reports whether s is a bare e-mail address whose domain has a dot:
// name@example.si, not "Name <name@example.si>" nor name@localhost.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	_, domain, ok := strings.Cut(s, "@")
	return ok && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// validWebURL reports whether s is an absolute http(s) URL with a host and no white space.
func validWebURL(s string) bool {
	if strings.ContainsAny(s, " \t\"<>") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

// DefaultTownColor is the colour of a town that has not chosen one.
const DefaultTownColor = "#0b5cad"

// CardNames is the name of the town's card in each of its languages and of its name's: the
// name set for the language, else the town's name in it (or in its own language) + " Card".
func (t Town) CardNames() map[string]string {
	out := map[string]string{}
	langs := append([]string{}, t.Languages...)
	for l := range t.Name {
		langs = append(langs, l)
	}
	for l := range t.CardName {
		langs = append(langs, l)
	}
	for _, l := range langs {
		if _, ok := out[l]; ok {
			continue
		}
		if n := t.CardName[l]; n != "" {
			out[l] = n
			continue
		}
		name := t.Name[l]
		if name == "" && len(t.Languages) > 0 {
			name = t.Name[t.Languages[0]]
		}
		if name == "" {
			for _, k := range []string{"sl", "it", "en", "de"} {
				if name = t.Name[k]; name != "" {
					break
				}
			}
		}
		if name == "" {
			name = t.Code
		}
		out[l] = name + " Card"
	}
	return out
}

// CardNameIn is the name of the town's card in lang, else in the town's own language.
func (t Town) CardNameIn(lang string) string {
	n := t.CardNames()
	if s := n[lang]; s != "" {
		return s
	}
	if len(t.Languages) > 0 && n[t.Languages[0]] != "" {
		return n[t.Languages[0]]
	}
	for _, l := range []string{"sl", "it", "en", "de"} {
		if n[l] != "" {
			return n[l]
		}
	}
	return t.Code + " Card"
}

// TownColor is the town's colour, DefaultTownColor if it has not chosen one.
func (t Town) TownColor() string {
	if t.Color == "" {
		return DefaultTownColor
	}
	return t.Color
}

// Errors of towns and office tokens.
var (
	ErrTownNotFound  = errors.New("town not found")
	ErrTownExists    = errors.New("a town with this code exists")
	ErrTokenNotFound = errors.New("office token not found")
)

// errNoTown is a list asked for without the town it must be limited to: a bug of the caller.
var errNoTown = errors.New("storage: a town's list asked for without a town")

var (
	townCodeRE  = regexp.MustCompile(`^[a-z0-9-]{2,32}$`)
	townColorRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)
)

// maxCardName is the longest card name, in characters.
const maxCardName = 60

// Validate checks the town's fields. Errors wrap card.ErrInvalidInput.
func (t *Town) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{card.ErrInvalidInput}, a...)...)
	}
	if !townCodeRE.MatchString(t.Code) {
		return bad("code must be 2 to 32 lower-case letters, digits or dashes")
	}
	if err := card.ValidateNames("name", t.Name, 200); err != nil {
		return err
	}
	if t.Timezone == "" {
		return bad("timezone is required")
	}
	if _, err := time.LoadLocation(t.Timezone); err != nil || strings.EqualFold(t.Timezone, "local") {
		return bad("timezone %q is not a known IANA zone", t.Timezone)
	}
	if len(t.Languages) == 0 || len(t.Languages) > 4 {
		return bad("languages must list 1 to 4 of sl, it, en, de")
	}
	seen := map[string]bool{}
	for _, l := range t.Languages {
		if !card.ValidLang(l) || l == "" {
			return bad("languages has unknown language %q (sl, it, en, de)", l)
		}
		if seen[l] {
			return bad("languages lists %q twice", l)
		}
		seen[l] = true
	}
	if len(t.PublicURL) > 500 {
		return bad("public_url must be at most 500 characters")
	}
	if t.PublicURL != "" && !strings.HasPrefix(t.PublicURL, "https://") && !strings.HasPrefix(t.PublicURL, "http://") {
		return bad("public_url must start with https:// or http://")
	}
	t.PublicURL = strings.TrimRight(t.PublicURL, "/")
	if len(t.CardName) > 0 {
		if err := card.ValidateNames("card_name", t.CardName, maxCardName); err != nil {
			return err
		}
	}
	t.Color = strings.ToLower(strings.TrimSpace(t.Color))
	if t.Color != "" && !townColorRE.MatchString(t.Color) {
		return bad("color must be a colour written #rrggbb, e.g. #0b5cad")
	}
	return t.Privacy.validate()
}

// DefaultTown is the town a fresh database starts with and an upgraded one puts its rows in:
// code "koper" unless configured, named after its code, in zone loc.
func DefaultTown(code string, loc *time.Location) Town {
	if code == "" {
		code = "koper"
	}
	if loc == nil {
		loc = time.UTC
	}
	return Town{Code: code, Name: map[string]string{"sl": strings.ToUpper(code[:1]) + code[1:]}, Timezone: loc.String(),
		Languages: []string{"sl", "it", "en", "de"}}
}

// Option configures Open.
type Option func(*options)

type options struct {
	town      *Town
	pg        postgres.Options
	keyReload time.Duration
}

// WithTown sets the town a fresh database starts with and an older one is upgraded into
// (default: DefaultTown("koper", loc)).
func WithTown(t Town) Option { return func(o *options) { o.town = &t } }

// WithPostgres configures the PostgreSQL engine (pool size, isolation); SQLite ignores it.
func WithPostgres(p postgres.Options) Option { return func(o *options) { o.pg = p } }

// townInfo is a town with its zone loaded.
type townInfo struct {
	Town
	loc *time.Location
}

// loadTowns reads the towns into memory. A read-only database reads each town's days in the
// zone its rollups were built for, so they read as they were booked.
func (db *DB) loadTowns(q querier) error {
	// One load at a time, so a load that read the towns earlier cannot store them after a
	// later one (a notification's reload racing a write's).
	db.townsLoad.Lock()
	defer db.townsLoad.Unlock()
	ts, err := allTowns(q)
	if err != nil {
		return err
	}
	m := make(map[string]townInfo, len(ts))
	for _, t := range ts {
		zone := t.Timezone
		if db.readOnly {
			var rz string
			if err := q.queryRow(`SELECT rollup_zone FROM towns WHERE code = ?`, t.Code).Scan(&rz); err != nil {
				return err
			}
			if rz != "" {
				zone = rz
			}
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return fmt.Errorf("town %s: zone %q: %w", t.Code, t.Timezone, err)
		}
		m[t.Code] = townInfo{t, loc}
	}
	db.townsMu.Lock()
	db.towns = m
	db.townsMu.Unlock()
	return nil
}

// TownLoc is town's zone; the database's Loc for a town it does not know.
func (db *DB) TownLoc(town string) *time.Location {
	db.townsMu.RLock()
	t, ok := db.towns[town]
	db.townsMu.RUnlock()
	if !ok {
		return db.Loc
	}
	return t.loc
}

// TownCodes are the codes of every town, sorted.
func (db *DB) TownCodes() []string {
	db.townsMu.RLock()
	defer db.townsMu.RUnlock()
	out := make([]string, 0, len(db.towns))
	for c := range db.towns {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// CachedTown is the town with this code from memory, without a query.
func (db *DB) CachedTown(code string) (Town, bool) {
	db.townsMu.RLock()
	defer db.townsMu.RUnlock()
	t, ok := db.towns[code]
	return t.Town, ok
}

const townColumns = `code, name, timezone, languages, public_url, card_name, color, privacy, created_at`

func scanTown(s scanner) (Town, error) {
	var t Town
	var name, langs, cardName, privacy string
	var created int64
	if err := s.Scan(&t.Code, &name, &t.Timezone, &langs, &t.PublicURL, &cardName, &t.Color, &privacy, &created); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(privacy), &t.Privacy); err != nil {
		return t, err
	}
	t.CreatedAt = fromMS(created)
	if err := json.Unmarshal([]byte(name), &t.Name); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(cardName), &t.CardName); err != nil {
		return t, err
	}
	if len(t.CardName) == 0 {
		t.CardName = nil
	}
	return t, json.Unmarshal([]byte(langs), &t.Languages)
}

func allTowns(q querier) ([]Town, error) {
	rows, err := q.query(`SELECT ` + townColumns + ` FROM towns ORDER BY code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Town
	for rows.Next() {
		t, err := scanTown(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Towns lists every town by code.
func (db *DB) Towns(ctx context.Context) ([]Town, error) { return allTowns(db.reader(ctx)) }

// Town returns the town with this code, or ErrTownNotFound.
func (db *DB) Town(ctx context.Context, code string) (Town, error) {
	t, err := scanTown(db.reader(ctx).queryRow(`SELECT `+townColumns+` FROM towns WHERE code = ?`, code))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrTownNotFound
	}
	return t, err
}

// CreateTown validates and stores t, setting CreatedAt. ErrTownExists for a taken code.
func (db *DB) CreateTown(ctx context.Context, t *Town) error {
	if err := t.Validate(); err != nil {
		return err
	}
	err := db.update(ctx, func(tx *Tx) error {
		t.CreatedAt = tx.Now
		name, _ := json.Marshal(t.Name)
		langs, _ := json.Marshal(t.Languages)
		_, err := tx.exec(`INSERT INTO towns (code, name, timezone, languages, public_url, card_name, color, privacy, rollup_zone, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Code, string(name), t.Timezone, string(langs), t.PublicURL, cardNameJSON(t.CardName), t.Color, privacyJSON(t.Privacy), t.Timezone, ms(t.CreatedAt))
		if tx.isUnique(err) {
			return ErrTownExists
		}
		if err != nil {
			return err
		}
		if err := tx.changed(topicTowns); err != nil {
			return err
		}
		return tx.auditIn("", "town.create", t.Code)
	})
	if err != nil {
		return err
	}
	return db.loadTowns(db.reader(ctx))
}

// UpdateTown applies change to the stored town, validates and stores it. A new zone rebuilds
// the town's rollups in the same write, for its days and months.
func (db *DB) UpdateTown(ctx context.Context, code string, change func(*Town) error) (Town, error) {
	var t Town
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		// Locked: of changes racing on one town each applies to what the one before stored.
		t, err = scanTown(tx.queryRow(`SELECT `+townColumns+` FROM towns WHERE code = ?`+tx.forUpdate(), code))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrTownNotFound
		}
		if err != nil {
			return err
		}
		if err := change(&t); err != nil {
			return err
		}
		t.Code = code
		if err := t.Validate(); err != nil {
			return err
		}
		name, _ := json.Marshal(t.Name)
		langs, _ := json.Marshal(t.Languages)
		if _, err := tx.exec(`UPDATE towns SET name = ?, timezone = ?, languages = ?, public_url = ?, card_name = ?, color = ?, privacy = ? WHERE code = ?`,
			string(name), t.Timezone, string(langs), t.PublicURL, cardNameJSON(t.CardName), t.Color, privacyJSON(t.Privacy), code); err != nil {
			return err
		}
		if err := tx.db.loadTowns(tx); err != nil {
			return err
		}
		if err := rebuildStaleRollups(tx); err != nil {
			return err
		}
		if err := tx.changed(topicTowns); err != nil {
			return err
		}
		return tx.auditIn("", "town.update", code)
	})
	if err != nil {
		// The write was undone: read the towns as they stand.
		if lerr := db.loadTowns(db.reader(ctx)); lerr != nil {
			return t, lerr
		}
		return t, err
	}
	// Read again once committed: a reload that a notification started before the commit
	// may have stored the towns as they were after the write's own load; this instance's
	// next read must see its own change.
	return t, db.loadTowns(db.reader(ctx))
}

// cardNameJSON is a town's card_name column: '{}' when none is set.
func cardNameJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// privacyJSON is a town's privacy column: '{}' when not filled in.
func privacyJSON(p TownPrivacy) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// OfficeToken is a town office's credential, as listed (never the token itself).
type OfficeToken struct {
	ID         string
	Town       string
	Label      string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

const officeTokenColumns = `seq, id, town, label, created_at, last_used_at, revoked_at`

func scanOfficeToken(s scanner) (OfficeToken, int64, error) {
	var t OfficeToken
	var seq, created int64
	var used, revoked sql.NullInt64
	err := s.Scan(&seq, &t.ID, &t.Town, &t.Label, &created, &used, &revoked)
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMS(created), fromNullMS(used), fromNullMS(revoked)
	return t, seq, err
}

// CreateOfficeToken stores the SHA-256 of a new office token of town. ErrTownNotFound.
func (db *DB) CreateOfficeToken(ctx context.Context, town, label string, tokenHash []byte) (OfficeToken, error) {
	if len([]rune(label)) > 200 {
		return OfficeToken{}, fmt.Errorf("%w: label must be at most 200 characters", card.ErrInvalidInput)
	}
	t := OfficeToken{Town: town, Label: label}
	err := db.update(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(`SELECT count(*) FROM towns WHERE code = ?`, town).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrTownNotFound
		}
		t.ID, t.CreatedAt = newID("tok"), tx.Now
		if _, err := tx.exec(`INSERT INTO office_tokens (id, town, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.ID, town, label, tokenHash, ms(tx.Now)); err != nil {
			return err
		}
		return tx.auditIn("", "office_token.create", t.ID) // the token itself is never audited
	})
	return t, err
}

// OfficeTokens lists town's tokens that are not revoked, oldest first.
func (db *DB) OfficeTokens(ctx context.Context, town string, page Page) ([]OfficeToken, string, error) {
	return list(db.reader(ctx), `SELECT `+officeTokenColumns+` FROM office_tokens
		WHERE town = ? AND revoked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?`, []any{town}, page, false,
		func(r *sql.Rows) (OfficeToken, int64, error) { return scanOfficeToken(r) })
}

// RevokeOfficeToken revokes town's token id: it stops working at once. ErrTokenNotFound.
func (db *DB) RevokeOfficeToken(ctx context.Context, town, id string) error {
	defer db.cache.officeTokens.invalidate("", true)
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE office_tokens SET revoked_at = ? WHERE town = ? AND id = ? AND revoked_at IS NULL`, ms(tx.Now), town, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrTokenNotFound
		}
		if err := tx.changed(topicTokens); err != nil {
			return err
		}
		return tx.auditIn("", "office_token.revoke", id)
	})
}

// OfficeTokenByHash returns the live office token whose SHA-256 is sum, or ErrTokenNotFound.
func (db *DB) OfficeTokenByHash(ctx context.Context, sum []byte) (OfficeToken, error) {
	return cached(db.cache.officeTokens, string(sum), func() (OfficeToken, error) {
		t, _, err := scanOfficeToken(db.reader(ctx).queryRow(`SELECT `+officeTokenColumns+` FROM office_tokens
			WHERE token_hash = ? AND revoked_at IS NULL`, sum))
		if errors.Is(err, sql.ErrNoRows) {
			return t, ErrTokenNotFound
		}
		return t, err
	})
}

// TouchOfficeToken records that token id was used now, at most once a minute per token so a
// busy office does not queue a write per request.
func (db *DB) TouchOfficeToken(ctx context.Context, id string) error {
	now := db.Now()
	db.townsMu.Lock()
	if db.touched == nil {
		db.touched = map[string]time.Time{}
	}
	last, ok := db.touched[id]
	if ok && now.Sub(last) < time.Minute {
		db.townsMu.Unlock()
		return nil
	}
	db.touched[id] = now
	db.townsMu.Unlock()
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`UPDATE office_tokens SET last_used_at = ? WHERE id = ?`, ms(tx.Now), id)
		return err
	})
}

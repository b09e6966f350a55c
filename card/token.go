package card

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A token is base64url (no padding, strict) of:
//
//	version (1 byte, 1) | key id (2 bytes, big endian) | card number (8 bytes, big endian) | Ed25519 signature (64 bytes)
//
// The signature covers tokenContext followed by the first 11 bytes, so a signature made for
// anything else never verifies as a token. 75 bytes make 100 characters.
const (
	tokenVersion = 1
	tokenPayload = 1 + 2 + 8
	tokenBytes   = tokenPayload + ed25519.SignatureSize
	// TokenLen is the length of every token in characters.
	TokenLen = (tokenBytes*8 + 5) / 6
	// MaxInputLen bounds what a "card" field may hold before any parsing.
	MaxInputLen = 2048
)

var tokenContext = []byte("citycard card token v1\x00")

var b64 = base64.RawURLEncoding.Strict()

// SigningKey is one Ed25519 key that signs card tokens. Private is nil for a key that only
// verifies. A key signs new tokens from ActivatesAt on (zero: from the start); before that it
// only verifies, so it can be published (public keys, offline packs) to every verifier ahead
// of the first token it signs.
type SigningKey struct {
	ID          uint16
	Private     ed25519.PrivateKey
	Public      ed25519.PublicKey
	CreatedAt   time.Time
	ActivatesAt time.Time
}

// NewSigningKey generates a key with the given id.
func NewSigningKey(id uint16, now time.Time) (SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: id, Private: priv, Public: pub, CreatedAt: now.UTC()}, nil
}

// SigningKeyFromSeed builds a key from a base64 (standard or URL) 32-byte seed or 64-byte
// private key, as given in CITYCARD_SIGNING_KEY.
func SigningKeyFromSeed(id uint16, s string, now time.Time) (SigningKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return SigningKey{}, errors.New("signing key is not base64")
	}
	var priv ed25519.PrivateKey
	switch len(raw) {
	case ed25519.SeedSize:
		priv = ed25519.NewKeyFromSeed(raw)
	case ed25519.PrivateKeySize:
		priv = ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !priv.Equal(ed25519.PrivateKey(raw)) {
			return SigningKey{}, errors.New("signing key: public half does not match the seed")
		}
	default:
		return SigningKey{}, fmt.Errorf("signing key must be 32 or 64 bytes, got %d", len(raw))
	}
	return SigningKey{ID: id, Private: priv, Public: priv.Public().(ed25519.PublicKey), CreatedAt: now.UTC()}, nil
}

// PublicKey is what a till needs to verify tokens offline.
type PublicKey struct {
	ID     uint16
	Public ed25519.PublicKey
}

// Keyring signs new tokens with its newest active private key and verifies tokens of every
// key it holds, so cards issued before a key rotation keep working. Its keys can be replaced
// while it is in use (Replace), when another process rotated them.
type Keyring struct {
	set     atomic.Pointer[keySet]
	now     func() time.Time // the clock that says which key is active (SetClock)
	unknown func(kid uint16) // asked about a kid it does not hold (OnUnknownKey)

	// verified remembers tokens that verified, so a card scanned again costs a map lookup
	// instead of an Ed25519 verification. Only valid tokens enter; it is bounded.
	mu       sync.RWMutex
	verified map[string]string
}

// maxVerified bounds the verified-token memo (about 200 bytes an entry).
const maxVerified = 50_000

// keySet is one generation of a keyring's keys.
type keySet struct {
	signers []SigningKey // the keys with a private half, by id
	public  map[uint16]ed25519.PublicKey
}

func newKeySet(keys []SigningKey) (*keySet, error) {
	set := &keySet{public: make(map[uint16]ed25519.PublicKey, len(keys))}
	for _, sk := range keys {
		if len(sk.Public) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("signing key %d: bad public key", sk.ID)
		}
		set.public[sk.ID] = sk.Public
		if sk.Private != nil {
			set.signers = append(set.signers, sk)
		}
	}
	if len(set.signers) == 0 {
		return nil, errors.New("no signing key with a private half")
	}
	sort.Slice(set.signers, func(i, j int) bool { return set.signers[i].ID < set.signers[j].ID })
	return set, nil
}

// signerAt is the key that signs at t: the one with the highest id among those with a private
// half that are active at t, or, if none is yet, the one with the lowest id.
func (s *keySet) signerAt(t time.Time) SigningKey {
	for i := len(s.signers) - 1; i >= 0; i-- {
		if !s.signers[i].ActivatesAt.After(t) {
			return s.signers[i]
		}
	}
	return s.signers[0]
}

// NewKeyring builds a keyring of keys, at least one with a private half (see SignAt for which
// one signs). Its clock is time.Now until SetClock.
func NewKeyring(keys []SigningKey) (*Keyring, error) {
	set, err := newKeySet(keys)
	if err != nil {
		return nil, err
	}
	k := &Keyring{now: time.Now, verified: map[string]string{}}
	k.set.Store(set)
	return k, nil
}

// SetClock sets the clock Sign and CurrentID go by. Call it before the keyring is shared.
func (k *Keyring) SetClock(now func() time.Time) { k.now = now }

// OnUnknownKey sets f, which Verify calls with the key id of a token whose key the keyring
// does not hold, before refusing it; f may Replace the keys (it is how a keyring learns of a
// rotation made by another process). f must bound its own cost: any client can send a token
// with an unknown key id. Call it before the keyring is shared.
func (k *Keyring) OnUnknownKey(f func(kid uint16)) { k.unknown = f }

// Replace makes keys the keyring's keys, at once for every caller; keys must hold one with a
// private half. Tokens that verified keep verifying without a new check only if every key
// the keyring held is still among keys.
func (k *Keyring) Replace(keys []SigningKey) error {
	set, err := newKeySet(keys)
	if err != nil {
		return err
	}
	old := k.set.Swap(set)
	for id, pub := range old.public {
		if !pub.Equal(set.public[id]) {
			k.mu.Lock()
			k.verified = map[string]string{}
			k.mu.Unlock()
			break
		}
	}
	return nil
}

// CurrentID is the id of the key that signs new tokens now (by the keyring's clock).
func (k *Keyring) CurrentID() uint16 { return k.SignerAt(k.now()) }

// SignerAt is the id of the key that signs new tokens at t (see SignAt).
func (k *Keyring) SignerAt(t time.Time) uint16 { return k.set.Load().signerAt(t).ID }

// Has reports whether the keyring holds the key with this id.
func (k *Keyring) Has(kid uint16) bool {
	_, ok := k.set.Load().public[kid]
	return ok
}

// PublicKeys lists every verifying key, by id: the active ones and those still to come.
func (k *Keyring) PublicKeys() []PublicKey {
	set := k.set.Load()
	out := make([]PublicKey, 0, len(set.public))
	for id, pub := range set.public {
		out = append(out, PublicKey{ID: id, Public: pub})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Sign returns the token naming the card with this number, signed by the key active now (by
// the keyring's clock): see SignAt.
func (k *Keyring) Sign(number string) (string, error) { return k.SignAt(number, k.now()) }

// SignAt returns the token naming the card with this number, signed by the key active at t:
// the newest (highest id) key with a private half whose ActivatesAt is not after t, or, if
// no such key is active yet, the oldest one.
func (k *Keyring) SignAt(number string, t time.Time) (string, error) {
	n, err := strconv.ParseUint(number, 10, 64)
	if err != nil || !ValidNumber(number) {
		return "", ErrInvalid
	}
	key := k.set.Load().signerAt(t)
	buf := make([]byte, tokenBytes)
	buf[0] = tokenVersion
	binary.BigEndian.PutUint16(buf[1:3], key.ID)
	binary.BigEndian.PutUint64(buf[3:11], n)
	sig := ed25519.Sign(key.Private, signed(buf[:tokenPayload]))
	copy(buf[tokenPayload:], sig)
	return b64.EncodeToString(buf), nil
}

func signed(payload []byte) []byte {
	return append(append(make([]byte, 0, len(tokenContext)+len(payload)), tokenContext...), payload...)
}

// Verify checks a token and returns the card number it names. Anything malformed, altered
// or signed by an unknown key gives ErrInvalid.
func (k *Keyring) Verify(token string) (string, error) {
	if len(token) != TokenLen {
		return "", ErrInvalid
	}
	k.mu.RLock()
	num, ok := k.verified[token]
	k.mu.RUnlock()
	if ok {
		return num, nil
	}
	num, err := k.verify(token)
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	if len(k.verified) >= maxVerified {
		for t := range k.verified { // evict an arbitrary tenth: cheap, and hot cards come back
			delete(k.verified, t)
			if len(k.verified) < maxVerified*9/10 {
				break
			}
		}
	}
	k.verified[token] = num
	k.mu.Unlock()
	return num, nil
}

func (k *Keyring) verify(token string) (string, error) {
	buf, err := b64.DecodeString(token)
	if err != nil || len(buf) != tokenBytes || buf[0] != tokenVersion {
		return "", ErrInvalid
	}
	kid := binary.BigEndian.Uint16(buf[1:3])
	pub, ok := k.set.Load().public[kid]
	if !ok && k.unknown != nil {
		k.unknown(kid) // perhaps rotated by another process: it may load the key
		pub, ok = k.set.Load().public[kid]
	}
	if !ok || !ed25519.Verify(pub, signed(buf[:tokenPayload]), buf[tokenPayload:]) {
		return "", ErrInvalid
	}
	num := strconv.FormatUint(binary.BigEndian.Uint64(buf[3:11]), 10)
	if !ValidNumber(num) {
		return "", ErrInvalid
	}
	return num, nil
}

// Ref is what a request's "card" field resolved to: always a card number, and whether it
// came from a verified token (a typed number did not).
type Ref struct {
	Number    string
	FromToken bool
}

// ParseInput resolves what a till scanned or a clerk typed: the card page URL
// (".../c/{token}"), a bare token or, if allowNumber, the printed number with or without
// spaces. Anything else, or a token that does not verify, gives ErrInvalid.
func (k *Keyring) ParseInput(s string, allowNumber bool) (Ref, error) {
	if len(s) > MaxInputLen {
		return Ref{}, ErrInvalid
	}
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "/c/"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexAny(s, "/?#"); j >= 0 {
			s = s[:j]
		}
	} else if allowNumber && looksLikeNumber(s) {
		n, err := NormalizeNumber(s)
		if err != nil {
			return Ref{}, err
		}
		return Ref{Number: n}, nil
	}
	n, err := k.Verify(s)
	if err != nil {
		return Ref{}, err
	}
	return Ref{Number: n, FromToken: true}, nil
}

func looksLikeNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != ' ' && r != '-' && r != '\u00a0' {
			return false
		}
	}
	return true
}

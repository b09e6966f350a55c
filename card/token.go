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
// verifies.
type SigningKey struct {
	ID        uint16
	Private   ed25519.PrivateKey
	Public    ed25519.PublicKey
	CreatedAt time.Time
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

// Keyring signs new tokens with its newest private key and verifies tokens of every key it
// holds, so cards issued before a key rotation keep working.
type Keyring struct {
	current SigningKey
	public  map[uint16]ed25519.PublicKey

	// verified remembers tokens that verified, so a card scanned again costs a map lookup
	// instead of an Ed25519 verification. Only valid tokens enter; it is bounded.
	mu       sync.RWMutex
	verified map[string]string
}

// maxVerified bounds the verified-token memo (about 200 bytes an entry).
const maxVerified = 50_000

// NewKeyring builds a keyring; the key with the highest id that has a private half signs.
func NewKeyring(keys []SigningKey) (*Keyring, error) {
	k := &Keyring{public: make(map[uint16]ed25519.PublicKey, len(keys)), verified: map[string]string{}}
	for _, sk := range keys {
		if len(sk.Public) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("signing key %d: bad public key", sk.ID)
		}
		k.public[sk.ID] = sk.Public
		if sk.Private != nil && (k.current.Private == nil || sk.ID > k.current.ID) {
			k.current = sk
		}
	}
	if k.current.Private == nil {
		return nil, errors.New("no signing key with a private half")
	}
	return k, nil
}

// CurrentID is the id of the key that signs new tokens.
func (k *Keyring) CurrentID() uint16 { return k.current.ID }

// PublicKeys lists every verifying key, by id.
func (k *Keyring) PublicKeys() []PublicKey {
	out := make([]PublicKey, 0, len(k.public))
	for id, pub := range k.public {
		out = append(out, PublicKey{ID: id, Public: pub})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Sign returns the token naming the card with this number.
func (k *Keyring) Sign(number string) (string, error) {
	n, err := strconv.ParseUint(number, 10, 64)
	if err != nil || !ValidNumber(number) {
		return "", ErrInvalid
	}
	buf := make([]byte, tokenBytes)
	buf[0] = tokenVersion
	binary.BigEndian.PutUint16(buf[1:3], k.current.ID)
	binary.BigEndian.PutUint64(buf[3:11], n)
	sig := ed25519.Sign(k.current.Private, signed(buf[:tokenPayload]))
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
	pub, ok := k.public[binary.BigEndian.Uint16(buf[1:3])]
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

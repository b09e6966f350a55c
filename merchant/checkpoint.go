package merchant

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// CheckpointVersion starts a version 1 checkpoint's signed message (before towns);
// CheckpointVersion2 a version 2 one's, which signs the town whose chain it describes.
const (
	CheckpointVersion  = "citycard-checkpoint-1"
	CheckpointVersion2 = "citycard-checkpoint-2"
)

// Reasons a checkpoint is signed, besides CheckpointCloseReason's "close YYYY-MM".
const (
	CheckpointDaily   = "daily"
	CheckpointStartup = "startup"
)

// CheckpointCloseReason is the reason of the checkpoint signed when month m closes.
func CheckpointCloseReason(m Month) string { return "close " + m.String() }

// Checkpoint is a signed statement that the ledger had Entries entries with head Head at
// SignedAt, as certificate-transparency logs publish: whoever keeps one can later tell that
// entries up to it were deleted or rewritten. KID names the Ed25519 key that signed it.
type Checkpoint struct {
	Version   int    // 1 (before towns) or 2
	Town      string // the town whose chain it describes
	Entries   int64
	Head      [32]byte
	SignedAt  time.Time // to the second
	KID       string
	Reason    string
	Signature []byte
}

// Message is what is signed: each field as a netstring (decimal byte length, ':', the bytes,
// ','), in this order: CheckpointVersion, entries (decimal), head (64 lowercase hex digits),
// signed_at (RFC 3339 in UTC to the second, as served), kid, reason. Version 2:
// CheckpointVersion2, town, then as version 1 from entries on.
func (c Checkpoint) Message() []byte {
	var b []byte
	fields := []string{CheckpointVersion}
	if c.Version >= 2 {
		fields = []string{CheckpointVersion2, c.Town}
	}
	for _, f := range append(fields, strconv.FormatInt(c.Entries, 10), hex.EncodeToString(c.Head[:]),
		c.SignedAt.UTC().Format(time.RFC3339), c.KID, c.Reason) {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ',')
	}
	return b
}

// ErrBadSignature is returned by Checkpoint.Verify for a signature that does not verify.
var ErrBadSignature = errors.New("checkpoint signature does not verify")

// Verify checks the checkpoint's signature with the public key pub.
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, c.Message(), c.Signature) {
		return ErrBadSignature
	}
	return nil
}

// CheckpointKID is the key id of checkpoint key n, as served: "ledger-n", apart from the
// card token keys' numbers.
func CheckpointKID(n int) string { return "ledger-" + strconv.Itoa(n) }

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/skip2/go-qrcode"
)

// qrCache keeps rendered QR PNGs by content, so each card's code is drawn once. It holds at
// most max entries and forgets the oldest first.
type qrCache struct {
	mu    sync.Mutex
	max   int
	items map[string]qrEntry
	order []string
}

type qrEntry struct {
	png  []byte
	etag string
}

func newQRCache(max int) *qrCache { return &qrCache{max: max, items: map[string]qrEntry{}} }

// get returns the PNG of text, rendering it on a miss.
func (q *qrCache) get(text string) (qrEntry, error) {
	q.mu.Lock()
	e, ok := q.items[text]
	q.mu.Unlock()
	if ok {
		return e, nil
	}
	// Medium error correction survives a scuffed card; 512 px prints sharp at 4 cm.
	png, err := qrcode.Encode(text, qrcode.Medium, 512)
	if err != nil {
		return e, err
	}
	sum := sha256.Sum256(png)
	e = qrEntry{png: png, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.items[text]; !ok {
		if len(q.order) >= q.max {
			delete(q.items, q.order[0])
			q.order = q.order[1:]
		}
		q.items[text] = e
		q.order = append(q.order, text)
	}
	return e, nil
}

// sendQR answers with the QR code of the card page for token (issued in town), honouring
// If-None-Match.
func (s *server) sendQR(c *fiber.Ctx, town, token string) error {
	e, err := s.qr.get(s.cardURL(town, token))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, e.etag)
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400")
	if c.Get(fiber.HeaderIfNoneMatch) == e.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(e.png)
}

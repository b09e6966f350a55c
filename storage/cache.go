package storage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
)

// readCache keeps rows the till's read path asks for again and again (a merchant by key, a
// merchant's offers, a card with its uses), so a scan costs map lookups instead of queries.
//
// It stays coherent because every write goes through this process: a write that changes a row
// calls invalidate after its commit. A reader notes the generation before it queries and stores
// its result only if no invalidation happened since, so a result read before a commit can never
// be stored after that commit's invalidation. Bounded: when full, it is emptied.
type readCache[K comparable, V any] struct {
	off   bool // never stores: every lookup reads the database
	mu    sync.Mutex
	gen   uint64
	max   int
	items map[K]V

	hits, misses atomic.Uint64 // lookups through cached, for metrics
}

func newReadCache[K comparable, V any](max int) *readCache[K, V] {
	return &readCache[K, V]{max: max, items: map[K]V{}}
}

// get returns the cached value and the generation to pass to put.
func (c *readCache[K, V]) get(k K) (V, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.items[k]
	return v, ok, c.gen
}

// put stores v if nothing was invalidated since gen.
func (c *readCache[K, V]) put(k K, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.items) >= c.max {
		c.items = map[K]V{}
	}
	c.items[k] = v
}

// invalidate forgets k, or everything if all.
func (c *readCache[K, V]) invalidate(k K, all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if all {
		c.items = map[K]V{}
		return
	}
	delete(c.items, k)
}

// cached runs load through c: a hit returns the cached value, a miss loads and stores it.
func cached[K comparable, V any](c *readCache[K, V], k K, load func() (V, error)) (V, error) {
	if c.off {
		c.misses.Add(1)
		return load()
	}
	v, ok, gen := c.get(k)
	if ok {
		c.hits.Add(1)
		return v, nil
	}
	c.misses.Add(1)
	v, err := load()
	if err == nil {
		c.put(k, v, gen)
	}
	return v, err
}

// cardEntry is a card with its latest use of each offer and its product (with the towns
// that accept it), as the read path needs them.
type cardEntry struct {
	card    card.Card
	uses    map[string][]merchant.Use
	product card.Product
}

// caches are the DB's read caches.
type caches struct {
	merchantByKey *readCache[string, merchant.Merchant]
	merchantByID  *readCache[string, merchant.Merchant]
	offers        *readCache[string, []merchant.Offer] // a merchant's active offers
	cards         *readCache[string, cardEntry]        // by number
	officeTokens  *readCache[string, OfficeToken]      // by token hash
	products      *readCache[string, card.Product]     // by town and code; products never change
}

// newCaches makes the caches. On a database other processes write too (shared), the cards
// are not cached at all (every redemption in any process changes them), and the others are
// emptied by the change notifications every process sends (see DB.listen): merchants,
// offers, office tokens and towns change rarely, and a write is checked again inside its own
// transaction anyway (Redeem reads the merchant, its key, the offer and the card there).
func newCaches(shared bool) caches {
	c := caches{
		merchantByKey: newReadCache[string, merchant.Merchant](10_000),
		merchantByID:  newReadCache[string, merchant.Merchant](10_000),
		offers:        newReadCache[string, []merchant.Offer](10_000),
		cards:         newReadCache[string, cardEntry](100_000),
		officeTokens:  newReadCache[string, OfficeToken](10_000),
		products:      newReadCache[string, card.Product](10_000),
	}
	c.cards.off = shared
	return c
}

// Topics of the change notifications between processes sharing a database.
const (
	topicMerchants = "merchants"
	topicOffers    = "offers"
	topicTokens    = "office_tokens"
	topicTowns     = "towns"
)

// changed tells the other processes sharing the database (if any) that topic changed, when
// tx commits. This process empties its own caches itself, after the commit.
func (t *Tx) changed(topic string) error {
	n, ok := t.db.eng.(engine.Notifier)
	if !ok || !t.db.eng.Shared() {
		return nil
	}
	return n.Notify(t.tx, topic)
}

// listen empties the caches on the other processes' change notifications, on an engine
// shared with them. "" (notifications may have been lost) empties everything.
func (db *DB) listen() {
	n, ok := db.eng.(engine.Notifier)
	if !ok || !db.eng.Shared() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.stopListen = cancel
	db.listening.Add(1)
	go func() {
		defer db.listening.Done()
		n.Listen(ctx, func(topic string) {
			switch topic {
			case topicMerchants:
				db.cache.merchantsChanged()
			case topicOffers:
				db.cache.offers.invalidate("", true)
			case topicTokens:
				db.cache.officeTokens.invalidate("", true)
			case topicTowns:
				db.reloadTowns(ctx)
			case topicKeys:
				db.reloadKeys(ctx)
			default:
				db.cache.merchantsChanged()
				db.cache.offers.invalidate("", true)
				db.cache.officeTokens.invalidate("", true)
				db.cache.cards.invalidate("", true)
				db.reloadTowns(ctx)
				db.reloadKeys(ctx)
			}
		})
	}()
}

// reloadTowns reads the towns again after another process changed them.
func (db *DB) reloadTowns(ctx context.Context) {
	if err := db.loadTowns(db.reader(ctx)); err != nil && ctx.Err() == nil {
		slog.Warn("reload towns", "err", err)
	}
}

// merchantsChanged is called after any merchant write.
func (c caches) merchantsChanged() {
	c.merchantByKey.invalidate("", true)
	c.merchantByID.invalidate("", true)
}

// cardEntry returns the card with this number and its uses, through the cache.
func (db *DB) cardEntry(q querier, number string) (cardEntry, error) {
	return cached(db.cache.cards, number, func() (cardEntry, error) {
		c, err := cardWhere(q, `number = ?`, number)
		if err != nil {
			return cardEntry{}, err
		}
		uses, err := cardUsesByOffer(q, c.ID)
		if err != nil {
			return cardEntry{}, err
		}
		p, err := db.productByCode(q, c.Town, c.Product)
		return cardEntry{c, uses, p}, err
	})
}

// CacheStat is how often a read cache answered a lookup (Hits) or sent it to the database
// (Misses), since the database was opened.
type CacheStat struct {
	Name         string
	Hits, Misses uint64
}

// CacheStats reports each read cache: merchant_by_key, merchant_by_id, offers and cards.
func (db *DB) CacheStats() []CacheStat {
	stat := func(name string, hits, misses *atomic.Uint64) CacheStat {
		return CacheStat{Name: name, Hits: hits.Load(), Misses: misses.Load()}
	}
	c := db.cache
	return []CacheStat{
		stat("merchant_by_key", &c.merchantByKey.hits, &c.merchantByKey.misses),
		stat("merchant_by_id", &c.merchantByID.hits, &c.merchantByID.misses),
		stat("offers", &c.offers.hits, &c.offers.misses),
		stat("cards", &c.cards.hits, &c.cards.misses),
	}
}

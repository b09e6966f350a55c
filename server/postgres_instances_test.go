package main

// PostgreSQL only: several service instances behind a load balancer, each a whole server
// (app, storage.DB with its own pool, caches and change listener) on one database URL
// (issue 13). Skipped without CITYCARD_TEST_POSTGRES, failed under CI.

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/storage/storagetest"
)

// newInstances starts n servers on one fresh PostgreSQL schema, one after the other (the first
// migrates it and creates the keyring the others load).
func newInstances(t *testing.T, n int) []*testServer {
	t.Helper()
	dsn := storagetest.Postgres(t)
	out := make([]*testServer, n)
	for i := range out {
		out[i] = newTestServerOn(t, dsn)
	}
	return out
}

// raceRedeemHTTP sends n redemptions at the same moment, the i-th to servers[i%len(servers)]
// with the Idempotency-Key idem(i), and returns the answers.
func raceRedeemHTTP(servers []*testServer, n int, key, cardToken, offerID, amount string, idem func(i int) string) []response {
	resps := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i] = servers[i%len(servers)].redeem(key, cardToken, offerID, amount, idem(i))
		}()
	}
	close(start)
	wg.Wait()
	return resps
}

// listCardRedemptions is the card's redemptions as server ts lists them.
func listCardRedemptions(ts *testServer, cardID string) []redemptionJSON {
	ts.t.Helper()
	var list listBody[redemptionJSON]
	ts.must(200, "GET", "/api/v1/redemptions?card="+cardID, "", asAdmin, &list)
	return list.Items
}

// 48 tills redeem one card's once offer at the same moment through three instances: one 201,
// 47 × 409 limit_reached, and every instance lists the one redemption.
func TestInstancesOnceRedemption48(t *testing.T) {
	servers := newInstances(t, 3)
	a := servers[0]
	a.mustProduct("koper-72h", 72, "tourist")
	m, key := a.mustMerchant("Kavarna", "bar")
	o := a.mustOffer(m.ID, "Once", `"kind":"free","limit":"once"`)
	c := a.mustCard("koper-72h", "", "")

	const n = 48
	resps := raceRedeemHTTP(servers, n, key, c.Token, o.ID, "10.00", func(i int) string { return fmt.Sprintf("till-%d", i) })
	created := 0
	for i, resp := range resps {
		switch resp.status {
		case 201:
			created++
		case 409:
			wantError(t, resp, 409, "limit_reached")
		default:
			t.Fatalf("request %d to instance %d: status %d: %s", i, i%3, resp.status, resp.body)
		}
	}
	if created != 1 {
		t.Fatalf("%d redemptions succeeded, want exactly 1", created)
	}
	for i, ts := range servers {
		if got := listCardRedemptions(ts, c.ID); len(got) != 1 {
			t.Fatalf("instance %d lists %d redemptions, want 1", i, len(got))
		}
	}
}

// A till retries one redemption 20 times with one Idempotency-Key, the load balancer sending
// the retries round-robin to three instances, all at once: one redemption is recorded, every
// answer is its 201 with the same id, and all but one carry Idempotent-Replayed.
func TestInstancesIdempotencyKey(t *testing.T) {
	for _, limit := range []string{"unlimited", "once"} {
		t.Run(limit, func(t *testing.T) {
			servers := newInstances(t, 3)
			a := servers[0]
			a.mustProduct("koper-72h", 72, "tourist")
			m, key := a.mustMerchant("Kavarna", "bar")
			o := a.mustOffer(m.ID, "Offer", `"kind":"percent","value":"10","limit":"`+limit+`"`)
			c := a.mustCard("koper-72h", "", "")

			const n = 20
			resps := raceRedeemHTTP(servers, n, key, c.Token, o.ID, "23.45", func(int) string { return "till-1-0001" })
			ids := map[string]int{}
			fresh := 0
			for i, resp := range resps {
				if resp.status != 201 {
					t.Errorf("retry %d to instance %d: status %d: %s", i, i%3, resp.status, resp.body)
					continue
				}
				var r redemptionJSON
				if err := json.Unmarshal(resp.body, &r); err != nil {
					t.Fatal(err)
				}
				ids[r.ID]++
				if resp.header.Get("Idempotent-Replayed") != "true" {
					fresh++
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			if len(ids) != 1 || fresh != 1 {
				t.Fatalf("answers name redemptions %v, %d without Idempotent-Replayed: want one redemption, one fresh answer", ids, fresh)
			}
			for i, ts := range servers {
				if got := listCardRedemptions(ts, c.ID); len(got) != 1 {
					t.Fatalf("instance %d lists %d redemptions, want 1", i, len(got))
				}
			}
		})
	}
}

// What the office changes on one instance holds on the others at once (issue 13, point 3):
// after A suspends the merchant, switches an offer off or blocks the card, a till on B whose
// caches were warm is refused at its next redemption; B's till check drops the switched-off
// offer within 2 s; and after A rotates the merchant's key, B refuses the old key at once,
// for a redemption too (five rounds, so that B's change notification does not win the race
// by luck).
func TestInstancesOfficeChangesHoldOnOthers(t *testing.T) {
	servers := newInstances(t, 2)
	a, b := servers[0], servers[1]
	a.mustProduct("koper-72h", 72, "tourist")
	m, key := a.mustMerchant("Kavarna", "bar")
	unlimited := a.mustOffer(m.ID, "Unlimited", `"kind":"percent","value":"10","limit":"unlimited"`)
	daily := a.mustOffer(m.ID, "Daily", `"kind":"free","limit":"daily"`)
	c := a.mustCard("koper-72h", "", "")
	idem := 0
	redeemOnB := func(key, offerID string) response {
		idem++
		return b.redeem(key, c.Token, offerID, "10.00", fmt.Sprintf("office-%d", idem))
	}
	// checkOnB is B's till check: the ids of the offers it lists.
	checkOnB := func(t *testing.T, key string) map[string]bool {
		t.Helper()
		var out struct {
			Offers []offerStateJSON `json:"offers"`
		}
		b.must(200, "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, c.Token), asKey(key), &out)
		ids := map[string]bool{}
		for _, o := range out.Offers {
			ids[o.ID] = true
		}
		return ids
	}

	t.Run("suspended merchant", func(t *testing.T) {
		checkOnB(t, key)
		a.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"status":"suspended"}`, asAdmin, nil)
		wantError(t, redeemOnB(key, unlimited.ID), 403, "merchant_suspended")
		a.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"status":"active"}`, asAdmin, nil)
		if resp := redeemOnB(key, unlimited.ID); resp.status != 201 {
			t.Fatalf("B after A reactivated the merchant: %d %s", resp.status, resp.body)
		}
	})

	t.Run("offer switched off", func(t *testing.T) {
		if !checkOnB(t, key)[daily.ID] {
			t.Fatal("B's till check does not list the daily offer")
		}
		a.must(200, "PATCH", "/api/v1/offers/"+daily.ID, `{"active":false}`, asAdmin, nil)
		wantError(t, redeemOnB(key, daily.ID), 422, "offer_inactive")
		deadline := time.Now().Add(2 * time.Second)
		for checkOnB(t, key)[daily.ID] {
			if time.Now().After(deadline) {
				t.Fatal("B's till check still lists the offer 2 s after A switched it off")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("blocked card", func(t *testing.T) {
		checkOnB(t, key)
		a.must(200, "POST", "/api/v1/cards/"+c.ID+"/block", `{"reason":"lost"}`, asAdmin, nil)
		wantError(t, redeemOnB(key, unlimited.ID), 422, "card_blocked")
		a.must(200, "POST", "/api/v1/cards/"+c.ID+"/unblock", "", asAdmin, nil)
		if resp := redeemOnB(key, unlimited.ID); resp.status != 201 {
			t.Fatalf("B after A unblocked the card: %d %s", resp.status, resp.body)
		}
	})

	t.Run("rotated key", func(t *testing.T) {
		current := key
		for round := 1; round <= 5; round++ {
			checkOnB(t, current) // B has the key in its cache
			var rotated struct {
				APIKey string `json:"api_key"`
			}
			a.must(201, "POST", "/api/v1/merchants/"+m.ID+"/key", "", asAdmin, &rotated)
			old := current
			current = rotated.APIKey
			if resp := redeemOnB(old, unlimited.ID); resp.status != 401 {
				t.Fatalf("round %d: B took a redemption with the key A had just rotated away: status %d %s", round, resp.status, resp.body)
			}
			if resp := redeemOnB(current, unlimited.ID); resp.status != 201 {
				t.Fatalf("round %d: B with the new key: %d %s", round, resp.status, resp.body)
			}
		}
	})
}

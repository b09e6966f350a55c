package storage

import (
	"context"
	"errors"
	"testing"

	"github.com/citycard/citycard/card"
)

// TestBatches: a batch's cards carry its id, in one transaction with the batch; cards are
// found by number, batch and product, alone or together; CardsByID keeps the order asked.
func TestBatches(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	b := card.Batch{Town: "koper", Product: "koper-72h", Count: 3, Name: "Hotel Histria", Lang: "it"}
	cards, err := db.CreateBatch(ctx, f.kr, &b)
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 3 || b.ID == "" || b.CreatedAt.IsZero() {
		t.Fatalf("batch %+v with %d cards", b, len(cards))
	}
	got, inBatch, err := db.BatchCards(ctx, "koper", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != b || len(inBatch) != 3 {
		t.Fatalf("BatchCards: %+v, %d cards", got, len(inBatch))
	}
	for i, c := range inBatch {
		if c.ID != cards[i].ID || c.BatchID != b.ID || c.Lang != "it" {
			t.Fatalf("card %d: %+v", i, c)
		}
	}
	if _, _, err := db.BatchCards(ctx, "koper", "bat_none"); !errors.Is(err, card.ErrBatchNotFound) {
		t.Fatalf("unknown batch: %v", err)
	}
	bad := card.Batch{Town: "koper", Product: "nope", Count: 1}
	if _, err := db.CreateBatch(ctx, f.kr, &bad); !errors.Is(err, card.ErrNoProduct) {
		t.Fatalf("unknown product: %v", err)
	}
	if l, _, _ := db.Batches(ctx, BatchFilter{Town: "koper"}, Page{}); len(l) != 1 {
		t.Fatalf("a failed batch left %d batches", len(l))
	}

	for _, tc := range []struct {
		f    CardFilter
		want int
	}{
		{CardFilter{}, 4},
		{CardFilter{Batch: b.ID}, 3},
		{CardFilter{Number: f.card.Number}, 1},
		{CardFilter{Number: f.card.Number, Batch: b.ID}, 0},
		{CardFilter{Number: cards[1].Number, Batch: b.ID, Product: "koper-72h"}, 1},
		{CardFilter{Product: "other"}, 0},
	} {
		tc.f.Town = "koper"
		l, _, err := db.Cards(ctx, tc.f, Page{})
		if err != nil || len(l) != tc.want {
			t.Errorf("%+v: %d cards, %v; want %d", tc.f, len(l), err, tc.want)
		}
	}
	byID, err := db.CardsByID(ctx, "koper", []string{cards[2].ID, f.card.ID, cards[2].ID})
	if err != nil || len(byID) != 3 || byID[0].ID != cards[2].ID || byID[1].ID != f.card.ID || byID[2].ID != cards[2].ID {
		t.Fatalf("CardsByID: %v %v", byID, err)
	}
	if _, err := db.CardsByID(ctx, "koper", []string{f.card.ID, "crd_none"}); !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("CardsByID of an unknown card: %v", err)
	}
}

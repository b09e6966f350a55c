package main

import (
	"context"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/papers"
	"github.com/citycard/citycard/storage"
)

// loadPaperNames reads every product (the town's and the network's it may use), offer and
// merchant of town, and the names of every town.
func loadPaperNames(ctx context.Context, db *storage.DB, town string) (papers.Names, error) {
	n := papers.Names{Products: map[string]map[string]string{}, Offers: map[string]map[string]string{},
		Merchants: map[string]merchant.Merchant{}, Town: town, Towns: map[string]map[string]string{}}
	for _, code := range db.TownCodes() {
		if t, ok := db.CachedTown(code); ok {
			n.Towns[code] = t.Name
			if code == town {
				n.CardName = townCardName(t)
			}
		}
	}
	err := eachPage(func(p storage.Page) (string, error) {
		items, next, err := db.Products(ctx, town, p)
		for _, it := range items {
			n.Products[it.Code] = it.Name
		}
		return next, err
	})
	if err == nil {
		err = eachPage(func(p storage.Page) (string, error) {
			items, next, err := db.Offers(ctx, town, "", p)
			for _, it := range items {
				n.Offers[it.ID] = it.Title
			}
			return next, err
		})
	}
	if err == nil {
		err = eachPage(func(p storage.Page) (string, error) {
			items, next, err := db.Merchants(ctx, town, p)
			for _, it := range items {
				n.Merchants[it.ID] = it
			}
			return next, err
		})
	}
	return n, err
}

// eachPage calls fetch with every page of a list until its next cursor is empty.
func eachPage(fetch func(storage.Page) (string, error)) error {
	p := storage.Page{Limit: 500}
	for {
		next, err := fetch(p)
		if err != nil || next == "" {
			return err
		}
		p.Cursor = next
	}
}

// townCardName is the name of t's card by language (every language filled in), which the
// papers' titles print beside the town's name. The one place to read it from storage.Town.
func townCardName(t storage.Town) map[string]string { return t.CardNames() }

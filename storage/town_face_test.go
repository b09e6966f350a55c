package storage

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/storage/storagetest"
)

// A town's card name and colour (issue 19): the defaults (its name + " Card" in each of its
// languages, DefaultTownColor), set, read back from the database and from memory, reset, and
// a bad colour or an over-long name refused without a change.
func TestTownCardNameAndColor(t *testing.T) {
	ctx := context.Background()
	c := mustCity(t, storagetest.DSN(t), testLoc)
	db := c.db
	ptuj := Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj", "de": "Pettau"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl", "it"}}
	if err := db.CreateTown(ctx, &ptuj); err != nil {
		t.Fatal(err)
	}
	got, err := db.Town(ctx, "ptuj")
	if err != nil {
		t.Fatal(err)
	}
	if got.CardName != nil || got.Color != "" || got.TownColor() != DefaultTownColor {
		t.Fatalf("a new town: card_name %v, color %q", got.CardName, got.Color)
	}
	want := map[string]string{"sl": "Ptuj Card", "it": "Ptuj Card", "de": "Pettau Card"}
	if n := got.CardNames(); len(n) != len(want) || n["sl"] != want["sl"] || n["it"] != want["it"] || n["de"] != want["de"] {
		t.Fatalf("default card names = %v, want %v", n, want)
	}
	if s := got.CardNameIn("en"); s != "Ptuj Card" {
		t.Fatalf("card name in a language the town lacks = %q", s)
	}

	set := func(t0 *Town) error {
		t0.CardName = map[string]string{"sl": "Ptujska kartica", "it": "Carta di Ptuj"}
		t0.Color = "#8A1538"
		return nil
	}
	if _, err := db.UpdateTown(ctx, "ptuj", set); err != nil {
		t.Fatal(err)
	}
	got, err = db.Town(ctx, "ptuj")
	if err != nil {
		t.Fatal(err)
	}
	if got.Color != "#8a1538" || got.CardNameIn("sl") != "Ptujska kartica" || got.CardNameIn("it") != "Carta di Ptuj" || got.CardNameIn("de") != "Pettau Card" {
		t.Fatalf("after the change: color %q, card names %v", got.Color, got.CardNames())
	}
	if mem, _ := db.CachedTown("ptuj"); mem.Color != "#8a1538" || mem.CardNameIn("sl") != "Ptujska kartica" {
		t.Fatalf("the town in memory: %+v", mem)
	}
	if koper, _ := db.CachedTown("koper"); koper.Color != "" || koper.CardName != nil {
		t.Fatalf("koper changed with ptuj: %+v", koper)
	}

	for name, change := range map[string]func(*Town){
		"colour word":      func(t0 *Town) { t0.Color = "red" },
		"short colour":     func(t0 *Town) { t0.Color = "#fff" },
		"colour not hex":   func(t0 *Town) { t0.Color = "#12345g" },
		"long name":        func(t0 *Town) { t0.CardName = map[string]string{"sl": strings.Repeat("x", 61)} },
		"empty name":       func(t0 *Town) { t0.CardName = map[string]string{"sl": " "} },
		"unknown language": func(t0 *Town) { t0.CardName = map[string]string{"fr": "Carte"} },
	} {
		_, err := db.UpdateTown(ctx, "ptuj", func(t0 *Town) error { change(t0); return nil })
		if !errors.Is(err, card.ErrInvalidInput) {
			t.Errorf("%s: %v, want invalid input", name, err)
		}
	}
	if got, _ := db.Town(ctx, "ptuj"); got.Color != "#8a1538" || got.CardNameIn("sl") != "Ptujska kartica" {
		t.Fatalf("a refused change was stored: %+v", got)
	}

	// Cleared: the defaults again.
	if _, err := db.UpdateTown(ctx, "ptuj", func(t0 *Town) error { t0.CardName, t0.Color = map[string]string{}, ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Town(ctx, "ptuj"); got.CardName != nil || got.TownColor() != DefaultTownColor || got.CardNameIn("sl") != "Ptuj Card" {
		t.Fatalf("after clearing: %+v", got)
	}
}

package storage

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/storage/storagetest"
)

// A town's privacy fields (issue 22): not filled in at first, set, read back from the
// database and from memory (another town unchanged), a bad one refused without a change,
// cleared with the zero value.
func TestTownPrivacy(t *testing.T) {
	ctx := context.Background()
	c := mustCity(t, storagetest.DSN(t), testLoc)
	db := c.db
	ptuj := Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl"}}
	if err := db.CreateTown(ctx, &ptuj); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Town(ctx, "ptuj"); got.Privacy.IsSet() {
		t.Fatalf("a new town's privacy: %+v", got.Privacy)
	}
	want := TownPrivacy{Controller: "Mestna občina Ptuj", Address: "Mestni trg 1, 2250 Ptuj", Contact: "dpo@ptuj.si"}
	if _, err := db.UpdateTown(ctx, "ptuj", func(t0 *Town) error {
		t0.Privacy = TownPrivacy{Controller: " " + want.Controller + " ", Address: want.Address, Contact: want.Contact}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Town(ctx, "ptuj"); got.Privacy != want || !got.Privacy.ContactIsEmail() {
		t.Fatalf("stored privacy %+v, want %+v", got.Privacy, want)
	}
	if mem, _ := db.CachedTown("ptuj"); mem.Privacy != want {
		t.Fatalf("the town in memory: %+v", mem.Privacy)
	}
	if koper, _ := db.CachedTown("koper"); koper.Privacy.IsSet() {
		t.Fatalf("koper changed with ptuj: %+v", koper.Privacy)
	}
	for name, p := range map[string]TownPrivacy{
		"no controller":     {Contact: "dpo@ptuj.si"},
		"no contact":        {Controller: "Mestna občina Ptuj"},
		"contact a word":    {Controller: "X", Contact: "ptuj"},
		"contact no domain": {Controller: "X", Contact: "dpo@localhost"},
		"contact named":     {Controller: "X", Contact: "DPO <dpo@ptuj.si>"},
		"contact ftp":       {Controller: "X", Contact: "ftp://ptuj.si/"},
		"contact no host":   {Controller: "X", Contact: "https://"},
		"long controller":   {Controller: strings.Repeat("x", 201), Contact: "dpo@ptuj.si"},
		"long address":      {Controller: "X", Address: strings.Repeat("x", 301), Contact: "dpo@ptuj.si"},
		"control character": {Controller: "X\u202e", Contact: "dpo@ptuj.si"},
	} {
		_, err := db.UpdateTown(ctx, "ptuj", func(t0 *Town) error { t0.Privacy = p; return nil })
		if !errors.Is(err, card.ErrInvalidInput) || !strings.Contains(err.Error(), "privacy.") {
			t.Errorf("%s: %v, want invalid input naming the field", name, err)
		}
	}
	if got, _ := db.Town(ctx, "ptuj"); got.Privacy != want {
		t.Fatalf("a refused change was stored: %+v", got.Privacy)
	}
	url := TownPrivacy{Controller: "X", Contact: "https://www.ptuj.si/varstvo-podatkov"}
	if _, err := db.UpdateTown(ctx, "ptuj", func(t0 *Town) error { t0.Privacy = url; return nil }); err != nil {
		t.Fatalf("a URL contact: %v", err)
	}
	if got, _ := db.Town(ctx, "ptuj"); got.Privacy != url || got.Privacy.ContactIsEmail() {
		t.Fatalf("a URL contact stored as %+v", got.Privacy)
	}
	if _, err := db.UpdateTown(ctx, "ptuj", func(t0 *Town) error { t0.Privacy = TownPrivacy{}; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Town(ctx, "ptuj"); got.Privacy.IsSet() {
		t.Fatalf("after clearing: %+v", got.Privacy)
	}
}

// Changes of one town racing (issue 22: the privacy fields join the settings a PATCH
// changes): each of several changes at once, through several instances on PostgreSQL, sets
// a different field; every one of them is kept, because each applies to what the one before
// stored (UpdateTown locks the town's row before reading it), and the town in memory of
// each instance agrees with the database once all are done.
func TestTownUpdatesRace(t *testing.T) {
	ctx := context.Background()
	db, clock := MustOpenDB(t)
	dbs := raceInstances(t, db, clock, 4)
	ptuj := Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl"}}
	if err := db.CreateTown(ctx, &ptuj); err != nil {
		t.Fatal(err)
	}
	want := TownPrivacy{Controller: "Mestna občina Ptuj", Contact: "dpo@ptuj.si"}
	changes := []func(*Town){
		func(t0 *Town) { t0.Privacy = want },
		func(t0 *Town) { t0.Color = "#8a1538" },
		func(t0 *Town) { t0.CardName = map[string]string{"sl": "Ptujska kartica"} },
		func(t0 *Town) { t0.PublicURL = "https://ptuj.example" },
		func(t0 *Town) { t0.Name = map[string]string{"sl": "Ptuj", "de": "Pettau"} },
		func(t0 *Town) { t0.Languages = []string{"sl", "de"} },
	}
	for round := range 5 {
		if _, err := db.UpdateTown(ctx, "ptuj", func(t0 *Town) error {
			*t0 = Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl"}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		errs := raceN(len(changes), func(i int) error {
			_, err := dbs[i%len(dbs)].UpdateTown(ctx, "ptuj", func(t0 *Town) error { changes[i](t0); return nil })
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: change %d: %v", round, i, err)
			}
		}
		got, err := db.Town(ctx, "ptuj")
		if err != nil {
			t.Fatal(err)
		}
		if got.Privacy != want || got.Color != "#8a1538" || got.CardName["sl"] != "Ptujska kartica" || got.PublicURL != "https://ptuj.example" ||
			got.Name["de"] != "Pettau" || len(got.Languages) != 2 {
			t.Fatalf("round %d: a change was lost: %+v", round, got)
		}
	}
}

package card

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func mustLoc(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestProductExpiresAt(t *testing.T) {
	loc := mustLoc(t)
	local := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		p    Product
		at   time.Time
		want time.Time
	}{
		// 25 October 2026 is the last Sunday of October: clocks go back from 03:00 to 02:00.
		{"72 hours across the October DST change are 72 real hours", Product{ValidityHours: 72}, local("2026-10-24 10:00"), local("2026-10-27 09:00")},
		{"1 calendar day ends at local midnight", Product{ValidityDays: 1}, local("2026-10-24 10:00"), local("2026-10-25 00:00")},
		{"2 calendar days across the DST change end at local midnight after day 2", Product{ValidityDays: 2}, local("2026-10-24 10:00"), local("2026-10-26 00:00")},
		{"activation at 23:59 still counts that day as day 1", Product{ValidityDays: 1}, local("2026-10-31 23:59"), local("2026-11-01 00:00")},
		{"3 days across the March DST change", Product{ValidityDays: 3}, local("2026-03-28 12:00"), local("2026-03-31 00:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.ExpiresAt(tt.at.UTC(), loc); !got.Equal(tt.want) {
				t.Fatalf("ExpiresAt = %v, want %v", got.In(loc), tt.want)
			}
		})
	}
	// The 2-day product above lasts 39 real hours because 25 October has 25.
	if got, want := (Product{ValidityDays: 2}).ExpiresAt(local("2026-10-24 10:00"), loc).Sub(local("2026-10-24 10:00")), 39*time.Hour; got != want {
		t.Fatalf("2 days from 10:00 on 24 Oct = %v, want %v", got, want)
	}
}

func TestCardStatus(t *testing.T) {
	loc := mustLoc(t)
	p := Product{Code: "p", ValidityHours: 24, ActivationDeadlineDays: 10}
	issued := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	c, err := NewCard(p, "Ana", "sl", issued, loc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Status(issued), StatusIssued; got != want {
		t.Fatalf("new card status = %s, want %s", got, want)
	}
	if got, want := c.Status(issued.AddDate(0, 0, 10)), StatusExpired; got != want {
		t.Fatalf("status after activation deadline = %s, want %s", got, want)
	}
	act := issued.Add(48 * time.Hour)
	if !c.Activate(p, act, loc) || c.Activate(p, act.Add(time.Hour), loc) {
		t.Fatal("Activate must change the card once only")
	}
	if got, want := c.Status(act.Add(23*time.Hour)), StatusActive; got != want {
		t.Fatalf("status within validity = %s, want %s", got, want)
	}
	if err := c.Usable(act.Add(24 * time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("Usable at expiry = %v, want ErrExpired", err)
	}
	if got, want := c.TimeLeft(act.Add(20*time.Hour)), 4*time.Hour; got != want {
		t.Fatalf("TimeLeft = %v, want %v", got, want)
	}
	blocked := act
	c.BlockedAt = &blocked
	if err := c.Usable(act.Add(time.Hour)); !errors.Is(err, ErrBlocked) {
		t.Fatalf("Usable when blocked = %v, want ErrBlocked", err)
	}
}

func TestNewCardValidation(t *testing.T) {
	loc := mustLoc(t)
	p := Product{Code: "p", ValidityHours: 24}
	if _, err := NewCard(p, "", "fr", time.Now(), loc); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("lang fr: err = %v, want ErrInvalidInput", err)
	}
}

func TestProductValidate(t *testing.T) {
	ok := func() Product {
		return Product{Code: "koper-72h", Name: map[string]string{"sl": "Kartica"}, ValidityHours: 72, PriceCents: 2500, Audience: "tourist"}
	}
	tests := []struct {
		name   string
		change func(*Product)
		valid  bool
	}{
		{"valid", func(*Product) {}, true},
		{"both validities", func(p *Product) { p.ValidityDays = 3 }, false},
		{"no validity", func(p *Product) { p.ValidityHours = 0 }, false},
		{"hours too many", func(p *Product) { p.ValidityHours = 8761 }, false},
		{"days max", func(p *Product) { p.ValidityHours, p.ValidityDays = 0, 3660 }, true},
		{"days too many", func(p *Product) { p.ValidityHours, p.ValidityDays = 0, 3661 }, false},
		{"bad audience", func(p *Product) { p.Audience = "vip" }, false},
		{"bad code", func(p *Product) { p.Code = "Koper 72h" }, false},
		{"no name", func(p *Product) { p.Name = nil }, false},
		{"unknown language", func(p *Product) { p.Name["fr"] = "Carte" }, false},
		{"negative deadline", func(p *Product) { p.ActivationDeadlineDays = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok()
			tt.change(&p)
			err := p.Validate()
			if got := err == nil; got != tt.valid {
				t.Fatalf("Validate() = %v, want valid=%v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			if tt.valid && p.ActivationDeadlineDays != DefaultActivationDeadlineDays {
				t.Fatalf("default activation deadline = %d", p.ActivationDeadlineDays)
			}
		})
	}
}

func TestLocalize(t *testing.T) {
	names := map[string]string{"sl": "Kartica", "it": "Carta"}
	for lang, want := range map[string]string{"it": "Carta", "de": "Kartica", "en": "Kartica"} {
		if got := Localize(names, lang); got != want {
			t.Errorf("Localize(%s) = %q, want %q", lang, got, want)
		}
	}
}

func TestVoidUndoesActivation(t *testing.T) {
	act := time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)
	exp := act.Add(72 * time.Hour)
	active := Card{ActivateBy: act.Add(365 * 24 * time.Hour), ActivatedAt: &act, ExpiresAt: &exp}
	later := act.Add(5 * time.Minute)
	tests := []struct {
		name       string
		c          Card
		usedAt     time.Time
		liveOthers int
		now        time.Time
		want       bool
	}{
		{"at once", active, act, 0, act, true},
		{"grace less a second", active, act, 0, act.Add(ActivationGrace - time.Second), true},
		{"at the grace exactly", active, act, 0, act.Add(ActivationGrace), true},
		{"grace and a second", active, act, 0, act.Add(ActivationGrace + time.Second), false},
		{"another live use", active, act, 1, act.Add(time.Minute), false},
		{"a voided earlier use does not count: this use activated the card", active, act, 0, act.Add(time.Minute), true},
		{"a later use, not the one that activated", active, later, 0, later.Add(time.Minute), false},
		{"a card never activated", Card{}, act, 0, act, false},
		{"a clock that went back", active, act, 0, act.Add(-time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VoidUndoesActivation(tt.c, tt.usedAt, tt.liveOthers, tt.now); got != tt.want {
				t.Fatalf("VoidUndoesActivation = %v, want %v", got, tt.want)
			}
		})
	}
	c := active
	c.Deactivate()
	if c.ActivatedAt != nil || c.ExpiresAt != nil || c.Status(act) != StatusIssued {
		t.Fatalf("after Deactivate: %+v, status %s", c, c.Status(act))
	}
}

// TestTimeCannotRunBackwards: a sale dated before the card's issue is ErrNotYetIssued
// (CheckSaleTime), at the issue itself it is fine, and activation never precedes issue (a 72-hour card activated by a
// sale dated 71 hours before its issue would otherwise expire an hour after it).
func TestTimeCannotRunBackwards(t *testing.T) {
	loc := time.UTC
	issued := time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)
	p := Product{Code: "p72", ValidityHours: 72, ActivationDeadlineDays: 365}
	for _, tc := range []struct {
		name       string
		at         time.Time
		wantUsable error
		wantActAt  time.Time
	}{
		{"at issue", issued, nil, issued},
		{"1 ms before issue", issued.Add(-time.Millisecond), ErrNotYetIssued, issued},
		{"71 h before issue", issued.Add(-71 * time.Hour), ErrNotYetIssued, issued},
		{"1 ms after issue", issued.Add(time.Millisecond), nil, issued.Add(time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Card{IssuedAt: issued, ActivateBy: p.ActivateBy(issued, loc)}
			if err := c.CheckSaleTime(tc.at); !errors.Is(err, tc.wantUsable) || (tc.wantUsable == nil && err != nil) {
				t.Fatalf("CheckSaleTime(%v) = %v, want %v", tc.at, err, tc.wantUsable)
			}
			if !c.Activate(p, tc.at, loc) {
				t.Fatal("Activate did not activate a fresh card")
			}
			if got := *c.ActivatedAt; !got.Equal(tc.wantActAt) {
				t.Fatalf("activated_at = %v, want %v", got, tc.wantActAt)
			}
			if got, want := *c.ExpiresAt, tc.wantActAt.Add(72*time.Hour); !got.Equal(want) {
				t.Fatalf("expires_at = %v, want %v", got, want)
			}
		})
	}
}

// TestProductCheckTowns: a town's product is accepted in its own town only; a product for
// several towns is a network product, which must list them (issue 17, observation 4).
func TestProductCheckTowns(t *testing.T) {
	for _, tc := range []struct {
		name      string
		town      string
		towns     []string
		want      error
		wantTowns []string
	}{
		{"town, omitted", "koper", nil, nil, []string{"koper"}},
		{"town, its own", "koper", []string{"koper"}, nil, []string{"koper"}},
		{"town, another", "koper", []string{"ptuj"}, ErrOtherTowns, nil},
		{"town, its own and another", "koper", []string{"koper", "ptuj"}, ErrOtherTowns, nil},
		{"town, its own twice", "koper", []string{"koper", "koper"}, ErrOtherTowns, nil},
		{"network, several", "", []string{"ptuj", "koper"}, nil, []string{"koper", "ptuj"}},
		{"network, none", "", nil, ErrInvalidInput, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Product{Town: tc.town, Towns: tc.towns}
			err := p.CheckTowns()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckTowns = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !slices.Equal(p.Towns, tc.wantTowns) {
				t.Fatalf("towns = %v, want %v", p.Towns, tc.wantTowns)
			}
		})
	}
}

package merchant

import (
	"errors"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
)

func cents(v int64) *int64 { return &v }

func TestDiscount(t *testing.T) {
	tests := []struct {
		name   string
		offer  Offer
		amount int64
		want   int64
		share  int64 // municipal share of the discount at the offer's MunicipalShare
	}{
		{"10 % of 23.45 is 2.35 (half away from zero)", Offer{Kind: KindPercent, Value: 1000, MunicipalShare: 5000}, 2345, 235, 118},
		{"10 % of 23.44 is 2.34", Offer{Kind: KindPercent, Value: 1000}, 2344, 234, 0},
		{"12.5 % of 10.00 is 1.25", Offer{Kind: KindPercent, Value: 1250, MunicipalShare: 3000}, 1000, 125, 38}, // 0.375 -> 0.38
		{"percent capped at max_discount", Offer{Kind: KindPercent, Value: 5000, MaxDiscount: cents(2000)}, 10000, 2000, 0},
		{"amount off", Offer{Kind: KindAmount, Value: 200}, 1000, 200, 0},
		{"amount off capped at the amount", Offer{Kind: KindAmount, Value: 500}, 300, 300, 0},
		{"free is the whole amount", Offer{Kind: KindFree, MunicipalShare: 10000}, 800, 800, 800},
		{"free capped at max_discount", Offer{Kind: KindFree, MaxDiscount: cents(500)}, 800, 500, 0},
		{"fixed price", Offer{Kind: KindPrice, Value: 100}, 250, 150, 0},
		{"fixed price above the amount gives no discount", Offer{Kind: KindPrice, Value: 500}, 250, 0, 0},
		{"zero amount", Offer{Kind: KindPercent, Value: 1000}, 0, 0, 0},
		{"100 % of the maximum amount", Offer{Kind: KindPercent, Value: 10000}, MaxCents, MaxCents, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.offer.Discount(tt.amount)
			if got != tt.want {
				t.Fatalf("Discount(%d) = %d, want %d", tt.amount, got, tt.want)
			}
			if s := tt.offer.Share(got); s != tt.share {
				t.Fatalf("Share(%d) = %d, want %d", got, s, tt.share)
			}
		})
	}
}

func TestRoundDiv(t *testing.T) {
	tests := []struct{ a, b, want int64 }{
		{5, 10, 1}, {4, 10, 0}, {15, 10, 2}, {-5, 10, -1}, {-4, 10, 0}, {-15, 10, -2}, {0, 10, 0},
		{117500, 10000, 12}, // 50 % of 2.35 = 1.175 -> 1.18 (in cents: 235*5000/10000 = 117.5 -> 118)
	}
	for _, tt := range tests {
		if got := RoundDiv(tt.a, tt.b); got != tt.want {
			t.Errorf("RoundDiv(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if got, want := ShareOf(235, 5000), int64(118); got != want {
		t.Fatalf("50 %% of 2.35 = %d cents, want %d", got, want)
	}
	if got, want := ShareOf(-235, 5000), int64(-118); got != want {
		t.Fatalf("50 %% of -2.35 = %d cents, want %d", got, want)
	}
}

func TestOfferValidate(t *testing.T) {
	ok := func() Offer {
		return Offer{Title: map[string]string{"en": "10% off"}, Kind: KindPercent, Value: 1000, Limit: LimitOnce, Active: true}
	}
	tests := []struct {
		name   string
		change func(*Offer)
		valid  bool
	}{
		{"valid", func(*Offer) {}, true},
		{"percent over 100", func(o *Offer) { o.Value = 10001 }, false},
		{"percent zero", func(o *Offer) { o.Value = 0 }, false},
		{"free with a value", func(o *Offer) { o.Kind = KindFree }, false},
		{"free", func(o *Offer) { o.Kind, o.Value = KindFree, 0 }, true},
		{"price zero", func(o *Offer) { o.Kind, o.Value = KindPrice, 0 }, true},
		{"amount zero", func(o *Offer) { o.Kind, o.Value = KindAmount, 0 }, false},
		{"bad kind", func(o *Offer) { o.Kind = "bogo" }, false},
		{"bad limit", func(o *Offer) { o.Limit = "weekly" }, false},
		{"empty products", func(o *Offer) { o.Products = []string{} }, false},
		{"duplicate products", func(o *Offer) { o.Products = []string{"a", "a"} }, false},
		{"bad date", func(o *Offer) { o.ValidFrom = "2026-13-01" }, false},
		{"until before from", func(o *Offer) { o.ValidFrom, o.ValidUntil = "2026-06-02", "2026-06-01" }, false},
		{"one-day window", func(o *Offer) { o.ValidFrom, o.ValidUntil = "2026-06-01", "2026-06-01" }, true},
		{"share over 100", func(o *Offer) { o.MunicipalShare = 10001 }, false},
		{"negative max_discount", func(o *Offer) { o.MaxDiscount = cents(-1) }, false},
		{"no title", func(o *Offer) { o.Title = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok()
			tt.change(&o)
			err := o.Validate()
			if (err == nil) != tt.valid {
				t.Fatalf("Validate() = %v, want valid=%v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalidInput) && !errors.Is(err, card.ErrInvalidInput) {
				t.Fatalf("error %v wraps no invalid-input sentinel", err)
			}
		})
	}
}

func TestQuoteRules(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Ljubljana")
	now := time.Date(2026, 7, 15, 10, 0, 0, 0, time.UTC) // 12:00 local
	act := now.Add(-time.Hour)
	exp := now.Add(time.Hour)
	active := card.Card{ID: "c1", Product: "koper-72h", ActivateBy: now.Add(time.Hour), ActivatedAt: &act, ExpiresAt: &exp}
	base := Offer{ID: "o1", Title: map[string]string{"en": "x"}, Kind: KindPercent, Value: 1000, Limit: LimitOnce, Active: true}
	past := now.Add(-24 * time.Hour)
	earlierToday := now.Add(-9 * time.Hour) // 03:00 local, same day
	tests := []struct {
		name    string
		card    func(card.Card) card.Card
		offer   func(Offer) Offer
		uses    []Use
		amount  int64
		wantErr error
	}{
		{"ok", nil, nil, nil, 1000, nil},
		{"blocked card", func(c card.Card) card.Card { c.BlockedAt = &past; return c }, nil, nil, 1000, card.ErrBlocked},
		{"expired card", func(c card.Card) card.Card { c.ExpiresAt = &now; return c }, nil, nil, 1000, card.ErrExpired},
		{"never-activated card past its deadline", func(c card.Card) card.Card { c.ActivatedAt, c.ExpiresAt, c.ActivateBy = nil, nil, now; return c }, nil, nil, 1000, card.ErrExpired},
		{"inactive offer", nil, func(o Offer) Offer { o.Active = false; return o }, nil, 1000, ErrOfferInactive},
		{"before valid_from", nil, func(o Offer) Offer { o.ValidFrom = "2026-07-16"; return o }, nil, 1000, ErrOfferInactive},
		{"after valid_until", nil, func(o Offer) Offer { o.ValidUntil = "2026-07-14"; return o }, nil, 1000, ErrOfferInactive},
		{"on valid_until, inclusive", nil, func(o Offer) Offer { o.ValidUntil = "2026-07-15"; return o }, nil, 1000, nil},
		{"other product", nil, func(o Offer) Offer { o.Products = []string{"koper-resident"}; return o }, nil, 1000, ErrOfferNotEligible},
		{"listed product", nil, func(o Offer) Offer { o.Products = []string{"koper-resident", "koper-72h"}; return o }, nil, 1000, nil},
		{"below min_amount", nil, func(o Offer) Offer { o.MinAmount = cents(1001); return o }, nil, 1000, ErrAmountTooLow},
		{"at min_amount", nil, func(o Offer) Offer { o.MinAmount = cents(1000); return o }, nil, 1000, nil},
		{"once, used before", nil, nil, []Use{{past}}, 1000, ErrLimitReached},
		{"daily, used yesterday", nil, func(o Offer) Offer { o.Limit = LimitDaily; return o }, []Use{{past}}, 1000, nil},
		{"daily, used earlier today", nil, func(o Offer) Offer { o.Limit = LimitDaily; return o }, []Use{{earlierToday}}, 1000, ErrLimitReached},
		{"unlimited, used today", nil, func(o Offer) Offer { o.Limit = LimitUnlimited; return o }, []Use{{earlierToday}}, 1000, nil},
		{"blocked wins over limit", func(c card.Card) card.Card { c.BlockedAt = &past; return c }, nil, []Use{{past}}, 1000, card.ErrBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, o := active, base
			if tt.card != nil {
				c = tt.card(c)
			}
			if tt.offer != nil {
				o = tt.offer(o)
			}
			q, err := QuoteFor(c, o, tt.uses, tt.amount, now, loc)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("QuoteFor err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (q.Discount != 100 || q.Total != 900) {
				t.Fatalf("quote = %+v, want discount 100 total 900", q)
			}
		})
	}
}

func TestDailyLimitUsesLocalDay(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Ljubljana")
	// 23:30 UTC on 31 Oct 2026 is 00:30 on 1 Nov in Ljubljana (CET, UTC+1): a new local day.
	used := time.Date(2026, 10, 31, 22, 30, 0, 0, time.UTC) // 23:30 local, 31 Oct
	now := time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC)
	if LimitUsed(LimitDaily, []Use{{used}}, now, loc) {
		t.Fatal("a use at 23:30 local blocks the next local day")
	}
	o := Offer{ID: "o", Limit: LimitDaily}
	if LimitKey(o, "c", used, loc) == LimitKey(o, "c", now, loc) {
		t.Fatal("daily limit keys of two local days are equal")
	}
	if LimitKey(Offer{ID: "o", Limit: LimitUnlimited}, "c", now, loc) != "" {
		t.Fatal("an unlimited offer has a limit key")
	}
}

func BenchmarkDiscount(b *testing.B) {
	o := Offer{Kind: KindPercent, Value: 1250, MaxDiscount: cents(2000), MunicipalShare: 5000}
	var sink int64
	for i := 0; b.Loop(); i++ {
		sink += o.Share(o.Discount(int64(i % 100000)))
	}
	_ = sink
}

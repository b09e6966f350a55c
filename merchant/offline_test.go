package merchant

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
)

func TestCheckOccurredAt(t *testing.T) {
	now := time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at   time.Time
		want error
	}{
		{now, nil},
		{now.Add(-72 * time.Hour), nil},
		{now.Add(-72*time.Hour - time.Millisecond), ErrOccurredAtOutOfRange},
		{now.Add(5 * time.Minute), nil},
		{now.Add(5*time.Minute + time.Millisecond), ErrOccurredAtOutOfRange},
	} {
		if err := CheckOccurredAt(tt.at, now); !errors.Is(err, tt.want) {
			t.Errorf("CheckOccurredAt(%s): %v, want %v", tt.at, err, tt.want)
		}
	}
}

func TestConflictReason(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{ErrLimitReached, true}, {card.ErrNotYetIssued, true}, {card.ErrExpired, true}, {card.ErrBlocked, true}, {card.ErrNotAccepted, true},
		{fmt.Errorf("wrapped: %w", ErrLimitReached), true},
		{ErrOfferInactive, true}, {ErrOfferNotEligible, true}, {ErrAmountTooLow, false}, {ErrOfferNotFound, false}, {card.ErrInvalid, false}, {nil, false},
	} {
		if got := ConflictReason(tt.err); got != tt.want {
			t.Errorf("ConflictReason(%v) = %v", tt.err, got)
		}
	}
}

func TestConflictQuote(t *testing.T) {
	min := int64(1500)
	o := Offer{Kind: KindPercent, Value: 1000, MinAmount: &min, MunicipalShare: 5000}
	q, err := ConflictQuote(o, 2345)
	if err != nil || q != (Quote{Amount: 2345, Discount: 235, Total: 2110, MunicipalShare: 118}) {
		t.Fatalf("ConflictQuote: %+v %v", q, err)
	}
	if _, err := ConflictQuote(o, 1000); !errors.Is(err, ErrAmountTooLow) {
		t.Fatalf("below the minimum: %v", err)
	}
	if _, err := ConflictQuote(o, MaxCents+1); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("too large: %v", err)
	}
}

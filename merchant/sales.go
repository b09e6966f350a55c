package merchant

import (
	"errors"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Sales points: hotels and tourist offices that issue a town's cards with their own secret.
// The town bills each for the cards it issued at the product's price, less its commission
// (basis points of the price, rounded per card, half away from zero). A card a sales point
// cancelled within CancelWindow of its issue, before any use, is never billed.
var (
	ErrProductNotAllowed = errors.New("this sales point may not issue this product")
	ErrCancelWindowOver  = errors.New("a card can be cancelled only within 30 minutes of its issue, before any use and while its month is open")
	ErrAlreadyCancelled  = errors.New("card already cancelled")
	ErrSalesPointStopped = errors.New("this sales point is not active")
)

// Ledger kinds of a sales point's card: its issue (Amount the price, Share the commission,
// MerchantID the sales point, RedemptionID SaleID) and its cancel (the same amounts negated,
// RedemptionID SaleCancelID), booked in the month. Neither names the guest.
const (
	LedgerSale       = "sale"
	LedgerSaleCancel = "sale_cancel"
)

// SaleID is the RedemptionID of the issue entry of card cardID; SaleCancelID of its cancel.
func SaleID(cardID string) string { return "sale:" + cardID }

// SaleCancelID is the RedemptionID of the cancel entry of card cardID.
func SaleCancelID(cardID string) string { return "sale_cancel:" + cardID }

// CancelWindow is how long after its issue a sales point may cancel a card.
const CancelWindow = 30 * time.Minute

// SalesPoint is a place that issues a town's cards: the products it may issue and its
// commission in basis points.
type SalesPoint struct {
	ID           string
	Town         string
	Name         string
	Products     []string
	CommissionBP int64
	Active       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Validate checks the fields a client sets. Errors wrap ErrInvalidInput.
func (p *SalesPoint) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	switch {
	case p.Name == "" || utf8.RuneCountInString(p.Name) > 200:
		return invalid("name must be 1 to 200 characters")
	case p.CommissionBP < 0 || p.CommissionBP > 10000:
		return invalid("commission must be between 0 and 100")
	case len(p.Products) > 100:
		return invalid("products: at most 100")
	}
	seen := map[string]bool{}
	for _, c := range p.Products {
		if c == "" || seen[c] {
			return invalid("products must be distinct product codes")
		}
		seen[c] = true
	}
	return nil
}

// Allows reports whether the sales point may issue product.
func (p SalesPoint) Allows(product string) bool {
	for _, c := range p.Products {
		if c == product {
			return true
		}
	}
	return false
}

// Commission is a card's commission at price (cents) and rate bp: rounded half away from zero.
func Commission(price, bp int64) int64 { return RoundDiv(price*bp, 10000) }

// CanCancel says whether a card issued at issuedAt, used uses times, may be cancelled at now:
// strictly within CancelWindow (29:59 may, 30:00 may not) and before any use, else
// ErrCancelWindowOver.
func CanCancel(issuedAt, now time.Time, uses int) error {
	if uses > 0 || !now.Before(issuedAt.Add(CancelWindow)) {
		return ErrCancelWindowOver
	}
	return nil
}

// SalesFigures are a sales point's (or one of its products') figures of a month: Cards
// issued and not cancelled, Cancelled, Amount (the billed cards' prices) and Commission, in
// cents. Owed is what the sales point pays the town.
type SalesFigures struct {
	Cards      int
	Cancelled  int
	Amount     int64
	Commission int64
}

// Owed is Amount − Commission.
func (f SalesFigures) Owed() int64 { return f.Amount - f.Commission }

func (f *SalesFigures) add(e LedgerEntry) {
	switch e.Kind {
	case LedgerSale:
		f.Cards++
	case LedgerSaleCancel:
		f.Cards--
		f.Cancelled++
	default:
		return
	}
	f.Amount += e.Amount
	f.Commission += e.Share
}

// SalesLine is one sales point's month: its totals, and the same by product (the statement's
// rows, which add up to the totals).
type SalesLine struct {
	SalesPoint string
	Name       string
	SalesFigures
	Products []SalesProductLine
}

// SalesProductLine is a sales point's figures of one product.
type SalesProductLine struct {
	Product string
	SalesFigures
}

// BuildSales adds up a month's sale and sale_cancel entries into one line per sales point
// (by name, then id; products by code); names maps sales point ids to names. Other kinds are
// left out. Nil when there are none, so a month without sales keeps its report's form.
func BuildSales(entries []LedgerEntry, names map[string]string) []SalesLine {
	by := map[string]*SalesLine{}
	prod := map[[2]string]*SalesProductLine{}
	for _, e := range entries {
		if e.Kind != LedgerSale && e.Kind != LedgerSaleCancel {
			continue
		}
		l := by[e.MerchantID]
		if l == nil {
			l = &SalesLine{SalesPoint: e.MerchantID, Name: names[e.MerchantID]}
			by[e.MerchantID] = l
		}
		l.add(e)
		k := [2]string{e.MerchantID, e.Product}
		p := prod[k]
		if p == nil {
			p = &SalesProductLine{Product: e.Product}
			prod[k] = p
		}
		p.add(e)
	}
	if len(by) == 0 {
		return nil
	}
	out := make([]SalesLine, 0, len(by))
	for _, l := range by {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].SalesPoint < out[j].SalesPoint
	})
	for i := range out {
		for k, p := range prod {
			if k[0] == out[i].SalesPoint {
				out[i].Products = append(out[i].Products, *p)
			}
		}
		sort.Slice(out[i].Products, func(a, b int) bool { return out[i].Products[a].Product < out[i].Products[b].Product })
	}
	return out
}

// SalesTotals is the sum of lines.
func SalesTotals(lines []SalesLine) SalesFigures {
	var t SalesFigures
	for _, l := range lines {
		t.Cards += l.Cards
		t.Cancelled += l.Cancelled
		t.Amount += l.Amount
		t.Commission += l.Commission
	}
	return t
}

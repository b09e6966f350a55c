package merchant

import (
	"fmt"
	"sort"
)

// Statement is a merchant's settlement for a month: the redemptions the municipality
// co-finances and the sum it owes (MunicipalShare), net of the adjustments booked in the
// month. Its figures are the merchant's line of the month's report.
type Statement struct {
	MerchantID, Name string
	Redemptions      int
	Discount         int64
	MunicipalShare   int64
	Items            []Redemption // the month's redemptions that count, oldest first
	Adjustments      []Adjustment // by time of the void
}

// BuildStatements gives one statement per merchant line of the report, in the report's
// order, with the month's counted redemptions (items, in any order) and the report's
// adjustments sorted in. With only set, it gives that merchant's statement alone, with zero
// figures if the merchant has no line. The statements' MunicipalShare adds up to the
// report's (for only: to its line's).
func BuildStatements(rep Report, items []Redemption, only *Merchant) []Statement {
	var out []Statement
	index := map[string]int{}
	for _, l := range rep.Merchants {
		if only != nil && l.MerchantID != only.ID {
			continue
		}
		index[l.MerchantID] = len(out)
		out = append(out, Statement{MerchantID: l.MerchantID, Name: l.Name, Redemptions: l.Redemptions,
			Discount: l.Discount, MunicipalShare: l.MunicipalShare})
	}
	if only != nil && len(out) == 0 {
		index[only.ID] = 0
		out = append(out, Statement{MerchantID: only.ID, Name: only.Name})
	}
	sorted := append([]Redemption(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].CreatedAt.Equal(sorted[j].CreatedAt) {
			return sorted[i].CreatedAt.Before(sorted[j].CreatedAt)
		}
		return sorted[i].ID < sorted[j].ID
	})
	for _, r := range sorted {
		if i, ok := index[r.MerchantID]; ok {
			out[i].Items = append(out[i].Items, r)
		}
	}
	for _, a := range rep.Adjustments.Items {
		if i, ok := index[a.MerchantID]; ok {
			out[i].Adjustments = append(out[i].Adjustments, a)
		}
	}
	return out
}

// StatementsTotal is the sum the municipality owes for the statements.
func StatementsTotal(sts []Statement) int64 {
	var sum int64
	for _, s := range sts {
		sum += s.MunicipalShare
	}
	return sum
}

// CheckStatements returns ErrLedgerMismatch, naming the merchant, if a statement's figures
// are not the sums of what it lists: its redemptions the number of its items, its discount
// and municipal share the items' plus the adjustments'. The figures come from the report
// (the rollups, or the frozen report) and the items from the ledger's redemptions, so a
// statement that does not add up means one of them was changed: it must not be paid from.
func CheckStatements(sts []Statement) error {
	for _, s := range sts {
		var discount, share int64
		for _, r := range s.Items {
			discount += r.Discount
			share += r.MunicipalShare
		}
		for _, a := range s.Adjustments {
			discount += a.Discount
			share += a.MunicipalShare
		}
		if len(s.Items) != s.Redemptions || discount != s.Discount || share != s.MunicipalShare {
			return fmt.Errorf("%w: the statement of %s lists %d redemptions (discount %d, municipal share %d cents) but its figures are %d (%d, %d)",
				ErrLedgerMismatch, s.MerchantID, len(s.Items), discount, share, s.Redemptions, s.Discount, s.MunicipalShare)
		}
	}
	return nil
}

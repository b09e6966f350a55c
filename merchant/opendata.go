package merchant

// OpenDataMinCards is the fewest distinct cards a published open-data cell may count.
const OpenDataMinCards = 5

// OpenDataCell is one local day and category of the open data.
type OpenDataCell struct {
	Date, Category     string
	Redemptions, Cards int
	Suppressed         bool // fewer than OpenDataMinCards cards: counts withheld (zero)
}

// OpenDataKey is the key of a day and category in OpenData's maps.
func OpenDataKey(date, category string) string { return date + "|" + category }

// OpenData gives a cell for every day of the month and every category, from the
// redemptions (not voided) and distinct cards by OpenDataKey. A cell of fewer than
// OpenDataMinCards cards is suppressed, an empty one too, so that a suppressed cell does not
// tell "none" from "a few", and no totals are given from which a suppressed cell could be
// worked out.
func OpenData(m Month, redemptions, cards map[string]int) []OpenDataCell {
	var out []OpenDataCell
	for _, d := range m.Days() {
		for _, c := range Categories {
			k := OpenDataKey(d, c)
			cell := OpenDataCell{Date: d, Category: c, Redemptions: redemptions[k], Cards: cards[k]}
			if cell.Cards < OpenDataMinCards {
				cell.Redemptions, cell.Cards, cell.Suppressed = 0, 0, true
			}
			out = append(out, cell)
		}
	}
	return out
}

package merchant

import "sort"

// TownReport is one town's report of a month, as the town itself serves it (the frozen one
// once the town has closed the month).
type TownReport struct {
	Town   string // the town's code
	Closed bool   // the month is closed in the town: Report is its frozen report
	Report Report
}

// TownTotals is one town's line of the network report: its report's totals.
type TownTotals struct {
	Town   string
	Closed bool
	Totals Totals
}

// ClearingLine is what the merchants of the acceptor town granted, in the month, to cards
// the issuer town issued: the acceptor's report's issuer line of the issuer.
type ClearingLine struct {
	Issuer, Acceptor string
	Counters
}

// NetworkReport is a month's report over every town: each town's totals and the clearing
// between towns. Every figure of Totals is the sum of the towns' (so, for money and
// redemptions, also of the clearing lines). CardsUsed is a count of (card, town) pairs: a card
// used in two towns counts once in each, as each town's report counts it, and the network
// total adds them up; the clearing lines add up to the same number, since each card has
// one issuer.
type NetworkReport struct {
	Month    Month
	Towns    []TownTotals   // by town code
	Clearing []ClearingLine // by issuer, then acceptor
	Totals   Totals
}

// BuildNetworkReport composes the network report of month m from the towns' reports of m.
// A town's figures are its report's, unchanged, so they equal what the town serves. The
// clearing has a line for every issuer line of every town's report (a pair with a
// redemption, or only an adjustment, booked in the month); a report frozen before the network
// of towns counts wholly as its own town's (Report.OwnIssuers).
func BuildNetworkReport(m Month, towns []TownReport) NetworkReport {
	n := NetworkReport{Month: m, Towns: make([]TownTotals, 0, len(towns)), Clearing: []ClearingLine{}}
	for _, t := range towns {
		tot := t.Report.Totals
		n.Towns = append(n.Towns, TownTotals{Town: t.Town, Closed: t.Closed, Totals: tot})
		n.Totals.Counters.add(tot.Counters)
		n.Totals.CardsUsed += tot.CardsUsed
		n.Totals.Voided += tot.Voided
		n.Totals.CardsIssued += tot.CardsIssued
		n.Totals.CardsActivated += tot.CardsActivated
		for _, l := range t.Report.OwnIssuers(t.Town) {
			n.Clearing = append(n.Clearing, ClearingLine{Issuer: l.Town, Acceptor: t.Town, Counters: l.Counters})
		}
	}
	sort.Slice(n.Towns, func(i, j int) bool { return n.Towns[i].Town < n.Towns[j].Town })
	sort.Slice(n.Clearing, func(i, j int) bool {
		a, b := n.Clearing[i], n.Clearing[j]
		if a.Issuer != b.Issuer {
			return a.Issuer < b.Issuer
		}
		return a.Acceptor < b.Acceptor
	})
	return n
}

// ClearingSums are the clearing lines summed by issuer and by acceptor (CardsUsed summed as
// in the network totals): what the cards of each town cost the other municipalities, and
// what each municipality paid for.
func (n NetworkReport) ClearingSums() (byIssuer, byAcceptor map[string]Counters) {
	byIssuer, byAcceptor = map[string]Counters{}, map[string]Counters{}
	for _, l := range n.Clearing {
		i, a := byIssuer[l.Issuer], byAcceptor[l.Acceptor]
		i.add(l.Counters)
		i.CardsUsed += l.CardsUsed
		a.add(l.Counters)
		a.CardsUsed += l.CardsUsed
		byIssuer[l.Issuer], byAcceptor[l.Acceptor] = i, a
	}
	return byIssuer, byAcceptor
}

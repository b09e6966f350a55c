package main

import (
	"strconv"
	"strings"

	"github.com/citycard/citycard/card"
)

// messages are the card page's texts in the four languages of the card.
var messages = map[string]map[string]string{
	"sl": {
		"title": "Vaša kartica", "status.issued": "Še ni aktivirana", "status.active": "Veljavna", "status.expired": "Potekla", "status.blocked": "Blokirana",
		"left": "Še veljavna", "activate_by": "Aktivirajte jo do", "activates": "Kartica se aktivira ob prvi uporabi.",
		"show": "To kodo pokažite na blagajni.", "number": "Številka kartice", "benefits": "Ugodnosti", "available": "Na voljo",
		"used": "Uporabljeno", "map": "Zemljevid", "days": "d", "hours": "h", "minutes": "min", "expired_on": "Potekla",
		"none": "Trenutno ni ugodnosti.", "notfound": "Kartice ni mogoče najti.", "notfound.hint": "Preverite, ali ste skenirali celotno kodo QR.",
		"reason.card_blocked": "Kartica je blokirana", "reason.card_expired": "Kartica je potekla", "reason.offer_inactive": "Trenutno ni na voljo",
		"reason.offer_not_eligible": "Ni vključeno v vašo kartico", "reason.limit_reached": "Že uporabljeno",
		"cat.shop": "Trgovine", "cat.restaurant": "Restavracije", "cat.bar": "Kavarne in bari", "cat.museum": "Muzeji", "cat.attraction": "Znamenitosti",
		"cat.tour": "Izleti", "cat.transport": "Prevoz", "cat.accommodation": "Nastanitve", "cat.service": "Storitve",
		"until": "do", "blocked_hint": "Za pomoč se obrnite na turistično informacijski center.", "qr_alt": "Koda QR kartice",
		"available_count": "na voljo", "last_used": "zadnjič", "language": "Jezik", "updated": "Posodobljeno",
		"offline": "Brez povezave. Prikazano stanje z dne", "ask": "Ste kartico kupili? Pomagali vam bodo v turistično informacijskem centru.", "oops": "Prišlo je do napake. Poskusite znova čez nekaj trenutkov.",
	},
	"it": {
		"title": "La tua carta", "status.issued": "Non ancora attivata", "status.active": "Valida", "status.expired": "Scaduta", "status.blocked": "Bloccata",
		"left": "Tempo rimasto", "activate_by": "Da attivare entro il", "activates": "La carta si attiva al primo utilizzo.",
		"show": "Mostra questo codice alla cassa.", "number": "Numero della carta", "benefits": "Vantaggi", "available": "Disponibile",
		"used": "Utilizzato il", "map": "Mappa", "days": "g", "hours": "h", "minutes": "min", "expired_on": "Scaduta il",
		"none": "Nessun vantaggio al momento.", "notfound": "Carta non trovata.", "notfound.hint": "Controlla di aver scansionato l'intero codice QR.",
		"reason.card_blocked": "La carta è bloccata", "reason.card_expired": "La carta è scaduta", "reason.offer_inactive": "Non disponibile ora",
		"reason.offer_not_eligible": "Non incluso nella tua carta", "reason.limit_reached": "Già utilizzato",
		"cat.shop": "Negozi", "cat.restaurant": "Ristoranti", "cat.bar": "Caffè e bar", "cat.museum": "Musei", "cat.attraction": "Attrazioni",
		"cat.tour": "Escursioni", "cat.transport": "Trasporti", "cat.accommodation": "Alloggi", "cat.service": "Servizi",
		"until": "fino al", "blocked_hint": "Per assistenza rivolgiti all'ufficio turistico.", "qr_alt": "Codice QR della carta",
		"available_count": "disponibili", "last_used": "l'ultima volta il", "language": "Lingua", "updated": "Aggiornato il",
		"offline": "Sei offline. Dati aggiornati al", "ask": "Hai acquistato la carta? Ti aiuteranno all'ufficio turistico.", "oops": "Si è verificato un errore. Riprova tra poco.",
	},
	"en": {
		"title": "Your card", "status.issued": "Not yet activated", "status.active": "Valid", "status.expired": "Expired", "status.blocked": "Blocked",
		"left": "Time left", "activate_by": "Activate by", "activates": "The card activates at its first use.",
		"show": "Show this code at the till.", "number": "Card number", "benefits": "Benefits", "available": "Available",
		"used": "Used on", "map": "Map", "days": "d", "hours": "h", "minutes": "min", "expired_on": "Expired on",
		"none": "No benefits at the moment.", "notfound": "Card not found.", "notfound.hint": "Check that the whole QR code was scanned.",
		"reason.card_blocked": "The card is blocked", "reason.card_expired": "The card has expired", "reason.offer_inactive": "Not available now",
		"reason.offer_not_eligible": "Not included in your card", "reason.limit_reached": "Already used",
		"cat.shop": "Shops", "cat.restaurant": "Restaurants", "cat.bar": "Cafés and bars", "cat.museum": "Museums", "cat.attraction": "Sights",
		"cat.tour": "Tours", "cat.transport": "Transport", "cat.accommodation": "Accommodation", "cat.service": "Services",
		"until": "until", "blocked_hint": "Please ask the tourist information centre for help.", "qr_alt": "The card's QR code",
		"available_count": "available", "last_used": "last used", "language": "Language", "updated": "Updated",
		"offline": "You are offline. Showing the card as of", "ask": "Bought a card? The tourist information centre will help you.", "oops": "Something went wrong. Please try again in a moment.",
	},
	"de": {
		"title": "Ihre Karte", "status.issued": "Noch nicht aktiviert", "status.active": "Gültig", "status.expired": "Abgelaufen", "status.blocked": "Gesperrt",
		"left": "Noch gültig", "activate_by": "Aktivieren bis", "activates": "Die Karte wird bei der ersten Nutzung aktiviert.",
		"show": "Zeigen Sie diesen Code an der Kasse.", "number": "Kartennummer", "benefits": "Vorteile", "available": "Verfügbar",
		"used": "Genutzt am", "map": "Stadtplan", "days": "T", "hours": "Std", "minutes": "Min", "expired_on": "Abgelaufen am",
		"none": "Zurzeit keine Vorteile.", "notfound": "Karte nicht gefunden.", "notfound.hint": "Prüfen Sie, ob der ganze QR-Code gescannt wurde.",
		"reason.card_blocked": "Die Karte ist gesperrt", "reason.card_expired": "Die Karte ist abgelaufen", "reason.offer_inactive": "Derzeit nicht verfügbar",
		"reason.offer_not_eligible": "Nicht in Ihrer Karte enthalten", "reason.limit_reached": "Bereits genutzt",
		"cat.shop": "Geschäfte", "cat.restaurant": "Restaurants", "cat.bar": "Cafés und Bars", "cat.museum": "Museen", "cat.attraction": "Sehenswürdigkeiten",
		"cat.tour": "Ausflüge", "cat.transport": "Verkehr", "cat.accommodation": "Unterkünfte", "cat.service": "Dienstleistungen",
		"until": "bis", "blocked_hint": "Bitte wenden Sie sich an die Tourist-Information.", "qr_alt": "QR-Code der Karte",
		"available_count": "verfügbar", "last_used": "zuletzt am", "language": "Sprache", "updated": "Aktualisiert",
		"offline": "Sie sind offline. Stand der Karte vom", "ask": "Karte gekauft? Die Tourist-Information hilft Ihnen weiter.", "oops": "Etwas ist schiefgelaufen. Bitte versuchen Sie es gleich noch einmal.",
	},
}

// pickLang chooses the page language: ?lang=, else the best of Accept-Language, else the
// card holder's language, else English.
func pickLang(query, acceptLanguage, cardLang string) string {
	if card.ValidLang(query) {
		return query
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		fields := strings.Split(part, ";")
		tag := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(f), "q="); ok {
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					q = n
				}
			}
		}
		if len(tag) >= 2 && card.ValidLang(tag[:2]) && q > bestQ {
			best, bestQ = tag[:2], q
		}
	}
	if best != "" {
		return best
	}
	if card.ValidLang(cardLang) {
		return cardLang
	}
	return "en"
}

package main

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/server/i18n"
)

// errorOf decodes an error answer's error object.
func errorOf(t *testing.T, resp response) errorDetail {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(resp.body, &eb); err != nil {
		t.Fatalf("not an error body: %v: %s", err, resp.body)
	}
	return eb.Error
}

// TestErrorMessagesLocalized: error.message follows Accept-Language (sl, it, en, de; else
// en), the code never changes, an invalid field is named in error.field, and a request
// without Accept-Language keeps the service's own English message.
func TestErrorMessagesLocalized(t *testing.T) {
	ts := newTestServer(t)
	m, _ := ts.mustMerchant("Kavarna", "bar")
	badIBAN := `{"iban":"SI56 1910 0000 0123 439"}`
	wantSentence := map[string]string{
		"sl": "IBAN ni veljaven", "it": "L'IBAN non è valido", "de": "Die IBAN ist ungültig", "en": "The IBAN is not valid",
	}
	for lang, want := range wantSentence {
		for _, al := range []string{lang, lang + "-XX,fr;q=0.5"} {
			resp := ts.do("PATCH", "/api/v1/merchants/"+m.ID, badIBAN, asAdmin.with("Accept-Language", al))
			wantError(t, resp, 400, "invalid_request")
			e := errorOf(t, resp)
			if e.Field != "iban" || !strings.HasPrefix(e.Message, want) {
				t.Errorf("Accept-Language %s: field %q message %q, want field iban and %q…", al, e.Field, e.Message, want)
			}
		}
	}
	// No Accept-Language: the message as it always was, the field named all the same.
	e := errorOf(t, ts.do("PATCH", "/api/v1/merchants/"+m.ID, badIBAN, asAdmin))
	if e.Field != "iban" || !strings.HasPrefix(e.Message, "invalid request: iban must be a valid IBAN") {
		t.Errorf("no Accept-Language: %+v", e)
	}
	// A language the service does not speak: English.
	e = errorOf(t, ts.do("PATCH", "/api/v1/merchants/"+m.ID, badIBAN, asAdmin.with("Accept-Language", "fr")))
	if !strings.HasPrefix(e.Message, "The IBAN is not valid") {
		t.Errorf("Accept-Language fr: %+v", e)
	}

	cases := []struct {
		name, method, path, body string
		h                        hdr
		status                   int
		code, field              string
		sl, it                   string
	}{
		{"unauthorized", "GET", "/api/v1/merchants", "", asKey("wrong"), 401, "unauthorized", "",
			"Ključ za prijavo manjka ali ni pravilen", "La chiave di accesso manca o è errata"},
		{"not found", "GET", "/api/v1/merchants/mer_nope", "", asAdmin, 404, "not_found", "", "Ni najdeno", "Non trovato"},
		{"unknown town", "GET", "/api/v1/merchants", "", asAdmin.with("Citycard-Town", "nowhere"), 404, "town_not_found", "",
			"Občine s to kodo ni", "Non esiste un comune con questo codice"},
		{"municipal share", "POST", "/api/v1/merchants/" + m.ID + "/offers",
			`{"title":{"sl":"X"},"kind":"percent","value":"10","limit":"once","municipal_share":"150"}`, asAdmin, 400, "invalid_request", "municipal_share",
			"Delež občine mora biti odstotek od 0 do 100", "La quota del comune deve essere una percentuale da 0 a 100"},
		{"field without a sentence", "POST", "/api/v1/merchants", `{"name":"X","category":"bar","address":"\u0007"}`, asAdmin, 400, "invalid_request", "address",
			"Polje »address« ni veljavno", "Il campo «address» non è valido"},
		{"product exists", "POST", "/api/v1/products", `{"code":"koper-72h","name":{"sl":"X"},"validity_hours":72,"price":"25.00","audience":"tourist"}`, asAdmin, 409, "already_exists", "",
			"Vrsta kartice s to kodo že obstaja", "Esiste già un tipo di carta con questo codice"},
	}
	ts.mustProduct("koper-72h", 72, "tourist")
	for _, tc := range cases {
		for lang, want := range map[string]string{"sl": tc.sl, "it": tc.it} {
			resp := ts.do(tc.method, tc.path, tc.body, tc.h.with("Accept-Language", lang))
			wantError(t, resp, tc.status, tc.code)
			e := errorOf(t, resp)
			if e.Field != tc.field || !strings.HasPrefix(e.Message, want) {
				t.Errorf("%s in %s: field %q message %q, want field %q and %q…", tc.name, lang, e.Field, e.Message, tc.field, want)
			}
		}
	}
}

// TestFieldOf: the field a validation message names, and none for a sentence.
func TestFieldOf(t *testing.T) {
	for msg, want := range map[string]string{
		"invalid request: iban must be a valid IBAN":                    "iban",
		"invalid request: name.sl is required (1 to 200 characters)":    "name.sl",
		"field amount must be a string, not number":                     "amount",
		`unknown field "colour"`:                                        "colour",
		"invalid request: a free offer takes no value":                  "",
		"request body must be a JSON object":                            "",
		"header Idempotency-Key of 1 to 255 characters is required":     "",
		"give ids or batch, not both":                                   "",
		"malformed JSON at byte 3":                                      "",
		"invalid request: value of a percent offer must be more than 0": "value",
	} {
		if got := fieldOf(msg); got != want {
			t.Errorf("fieldOf(%q) = %q, want %q", msg, got, want)
		}
	}
}

// errorCodesSent is every code the service can send: the error table, the handler's own, the
// fixed errors of the handlers (found in the source, so a new errorf(…, "code", …) is seen),
// and every code the OpenAPI document names; and every catalogue key an error names.
func errorCodesSent(t *testing.T) (codes, keys []string) {
	set := map[string]bool{}
	for c := range serverErrorCodes() {
		set[c] = true
	}
	for _, err := range []error{errTownRequired, errTownNotFound, errNetworkOnly, errRateLimited, errOpenDataNotClosed} {
		_, c, _ := classify(err)
		set[c] = true
	}
	files, _ := os.ReadDir(".")
	srcRE := regexp.MustCompile(`(?:errorf|keyed)\([^,]+,\s*"([a-z_]+)"`)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range srcRE.FindAllStringSubmatch(string(b), -1) {
			set[m[1]] = true
		}
	}
	doc, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`code: \{enum: \[([a-z_, ]+)\]\}`).FindAllStringSubmatch(string(doc), -1) {
		for _, c := range strings.Split(m[1], ",") {
			set[strings.TrimSpace(c)] = true
		}
	}
	for c := range set {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, e := range errorTable {
		if e.key != "" {
			keys = append(keys, e.key)
		}
	}
	keys = append(keys, errOpenDataNotClosed.(*apiError).key)
	return codes, keys
}

// TestErrorCatalogueComplete fails when a code the service can send, or a key an error
// names, has no sentence in one of the languages.
func TestErrorCatalogueComplete(t *testing.T) {
	codes, keys := errorCodesSent(t)
	if len(codes) < 30 {
		t.Fatalf("only %d codes found: %v", len(codes), codes)
	}
	cat := i18n.Catalogue("errors")
	for _, lang := range card.Languages {
		for _, c := range codes {
			if strings.TrimSpace(cat[lang]["code."+c]) == "" {
				t.Errorf("code %s has no sentence in errors.%s.json", c, lang)
			}
		}
		for _, k := range append(keys, "field") {
			if strings.TrimSpace(cat[lang][k]) == "" {
				t.Errorf("key %s has no sentence in errors.%s.json", k, lang)
			}
		}
	}
}

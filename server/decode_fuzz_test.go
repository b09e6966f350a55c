package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard/merchant"
)

// isBadRequest reports whether err is the contract's 400 invalid_request: client input never
// gets anything else from the decoders.
func isBadRequest(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == 400 && ae.code == "invalid_request"
}

// refAmount is the contract's money grammar written out by hand: digits without a leading
// zero (or one 0), optionally a point and one or two digits, at most 1000000.00; in cents.
func refAmount(s string, maxUnits int64) (int64, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	digits := func(d string) bool {
		for _, r := range d {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	if whole == "" || !digits(whole) || (len(whole) > 1 && whole[0] == '0') || len(whole) > 7 {
		return 0, false
	}
	if dot && (len(frac) < 1 || len(frac) > 2 || !digits(frac)) {
		return 0, false
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	if v := w*100 + f; v <= maxUnits*100 {
		return v, true
	}
	return 0, false
}

var moneySeeds = []string{"0", "0.00", "23", "23.5", "23.50", "1000000", "1000000.00", "1000000.01", "999999.99",
	"-1", "+1", "1e3", "1E3", "01", "00.5", ".5", "5.", "5.005", "1,50", " 1", "1 ", "٣", "0x10", "NaN", "Infinity", "", "10000000"}

// FuzzParseMoney: an accepted amount is what the contract's grammar says, in range, and
// formats back to itself; everything else is a 400.
func FuzzParseMoney(f *testing.F) {
	for _, s := range moneySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cents, err := parseMoney("amount", s)
		want, ok := refAmount(s, merchant.MaxCents/100)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("parseMoney(%q): %v, want 400 invalid_request", s, err)
			}
			if ok {
				t.Fatalf("parseMoney(%q) refused an amount the grammar allows (%d cents)", s, want)
			}
			return
		}
		if !ok || cents != want {
			t.Fatalf("parseMoney(%q) = %d cents; the grammar says %d, %v", s, cents, want, ok)
		}
		out := formatMoney(cents)
		if back, err := parseMoney("amount", out); err != nil || back != cents {
			t.Fatalf("formatMoney(%d) = %q parses back as %d, %v", cents, out, back, err)
		}
		if i := strings.IndexByte(out, '.'); i < 0 || len(out)-i != 3 {
			t.Fatalf("formatMoney(%d) = %q, want exactly two decimals", cents, out)
		}
	})
}

// FuzzParsePercent: the same for percentages, 0 to 100 with up to two decimals.
func FuzzParsePercent(f *testing.F) {
	for _, s := range append(moneySeeds, "100", "100.00", "100.01", "12.5", "0.01", "101") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bp, err := parsePercent("value", s)
		want, ok := refAmount(s, 100)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("parsePercent(%q): %v, want 400 invalid_request", s, err)
			}
			if ok {
				t.Fatalf("parsePercent(%q) refused a percentage the grammar allows (%d)", s, want)
			}
			return
		}
		if !ok || bp != want {
			t.Fatalf("parsePercent(%q) = %d basis points; the grammar says %d, %v", s, bp, want, ok)
		}
		if back, err := parsePercent("value", formatPercent(bp)); err != nil || back != bp {
			t.Fatalf("formatPercent(%d) = %q parses back as %d, %v", bp, formatPercent(bp), back, err)
		}
	})
}

// requestTypes are the bodies the API decodes, each as a fresh value.
var requestTypes = map[string]func() any{
	"card":     func() any { return &cardRequest{} },
	"batch":    func() any { return &batchRequest{} },
	"block":    func() any { return &blockRequest{} },
	"merchant": func() any { return &merchantRequest{} },
	"offer":    func() any { return &offerRequest{} },
	"product":  func() any { return &productRequest{} },
	"check":    func() any { return &checkRequest{} },
	"redeem":   func() any { return &redeemRequest{} },
	"void":     func() any { return &voidRequest{} },
}

// jsonFields are the JSON names of a struct's fields, lower-cased.
func jsonFields(v any) map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[strings.ToLower(name)] = true
	}
	return out
}

// FuzzDecodeJSON: the strict decoder accepts one JSON object whose every key is a field of
// the request, and nothing else; what it accepts survives a round trip; it never fails with
// anything but a 400.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"card":"AQAB","offer_id":"off_1","amount":"23.50","terminal":"till-1"}`,
		`{"product":"koper-72h","holder":"Ana Novak","lang":"sl"}`,
		`{"product":"koper-72h","count":100}`,
		`{"name":"Kavarna Loggia","category":"restaurant","address":"Titov trg 1, Koper","lat":45.5481,"lon":13.7302}`,
		`{"title":{"sl":"10 % popusta","en":"10% off"},"kind":"percent","value":"10","max_discount":"20.00","limit":"once","products":["koper-72h"],"valid_from":"2026-06-01","municipal_share":"50","active":true}`,
		`{"code":"koper-72h","name":{"en":"Koper Card"},"validity_hours":72,"price":"25.00","audience":"tourist"}`,
		`{"reason":"lost"}`, `{}`, ``, ` `, `null`, `[]`, `"x"`, `1`, `{"card":1}`, `{"CARD":"x"}`, `{"card":"x"}{}`,
		`{"card":"x"} `, `{"unknown":1}`, `{"count":1e400}`, `{"lat":"1"}`, `{"card":"\ud800"}`, `{"card":"x",}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, newV := range requestTypes {
			v := newV()
			err := decodeJSON(body, v, false)
			if err != nil {
				if !isBadRequest(err) {
					t.Fatalf("%s: decodeJSON(%q): %v, want 400 invalid_request", name, body, err)
				}
				continue
			}
			if !json.Valid(body) {
				t.Fatalf("%s: decodeJSON accepted %q, which is not JSON", name, body)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(body, &top); err != nil || top == nil {
				t.Fatalf("%s: decodeJSON accepted %q, which is not a JSON object", name, body)
			}
			fields := jsonFields(v)
			for k := range top {
				if !fields[strings.ToLower(k)] {
					t.Fatalf("%s: decodeJSON accepted the unknown field %q in %q", name, k, body)
				}
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			w := newV()
			if err := decodeJSON(again, w, false); err != nil || !reflect.DeepEqual(v, w) {
				t.Fatalf("%s: %q decodes to %+v; re-encoded as %s it decodes to %+v, %v", name, body, v, again, w, err)
			}
		}
	})
}

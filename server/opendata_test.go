package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
)

// ldNode is a JSON-LD node after expandLD: every key and @type a full IRI.
type ldNode = map[string]any

// expandLD expands a compacted JSON-LD document by its own @context of prefixes: each
// "prefix:name" key, @type and typed value's @type becomes the prefix's IRI + name. A
// prefix the @context does not define is an error, so a term the document uses without
// declaring it fails the test instead of passing as an opaque string.
func expandLD(doc map[string]any) (ldNode, error) {
	ctx, ok := doc["@context"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no @context object")
	}
	prefixes := map[string]string{}
	for k, v := range ctx {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "http") {
			return nil, fmt.Errorf("@context %s is not a prefix IRI: %v", k, v)
		}
		prefixes[k] = s
	}
	iri := func(term string) (string, error) {
		if strings.HasPrefix(term, "@") || strings.Contains(term, "://") {
			return term, nil
		}
		p, local, ok := strings.Cut(term, ":")
		if !ok || prefixes[p] == "" {
			return "", fmt.Errorf("term %q has no prefix of the @context", term)
		}
		return prefixes[p] + local, nil
	}
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		switch x := v.(type) {
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				var err error
				if out[i], err = walk(e); err != nil {
					return nil, err
				}
			}
			return out, nil
		case map[string]any:
			out := ldNode{}
			for k, e := range x {
				if k == "@context" {
					continue
				}
				key, err := iri(k)
				if err != nil {
					return nil, err
				}
				if k == "@type" {
					s, _ := e.(string)
					if e, err = iri(s); err != nil {
						return nil, err
					}
				} else if e, err = walk(e); err != nil {
					return nil, err
				}
				out[key] = e
			}
			return out, nil
		}
		return v, nil
	}
	n, err := walk(doc)
	if err != nil {
		return nil, err
	}
	return n.(ldNode), nil
}

// ldAll is the values of a property, a single value read as a list of one.
func ldAll(n ldNode, prop string) []any {
	switch v := n[prop].(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// ldNodes are a property's node values.
func ldNodes(t *testing.T, n ldNode, prop string) []ldNode {
	t.Helper()
	var out []ldNode
	for _, v := range ldAll(n, prop) {
		m, ok := v.(ldNode)
		if !ok {
			t.Fatalf("%s is not a node: %v", prop, v)
		}
		out = append(out, m)
	}
	return out
}

// The DCAT-AP properties the catalogue must have: DCAT-AP's mandatory ones (Catalogue:
// description, publisher, title, dataset; Dataset: description, title; Distribution:
// accessURL) and the recommended ones it emits.
var (
	dcatCatalogProps      = []string{nsDCT + "title", nsDCT + "description", nsDCT + "publisher", nsDCAT + "dataset", nsFOAF + "homepage", nsDCT + "license", nsDCAT + "themeTaxonomy", nsDCT + "language"}
	dcatDatasetProps      = []string{nsDCT + "title", nsDCT + "description", nsDCT + "publisher", nsDCAT + "contactPoint", nsDCAT + "theme", nsDCAT + "keyword", nsDCT + "identifier", nsDCT + "issued", nsDCT + "modified", nsDCT + "accrualPeriodicity", nsDCT + "language"}
	dcatDistributionProps = []string{nsDCAT + "accessURL", nsDCAT + "downloadURL", nsDCT + "format", nsDCAT + "mediaType", nsDCT + "license", nsDCT + "temporal", nsDCT + "issued", nsDCT + "title"}
)

// requireProps fails for each property n lacks or has empty.
func requireProps(t *testing.T, what string, n ldNode, props []string) {
	t.Helper()
	for _, p := range props {
		if vs := ldAll(n, p); len(vs) == 0 || vs[0] == "" {
			t.Errorf("%s %v lacks %s", what, n["@id"], p)
		}
	}
}

// ldID is a node reference's IRI.
func ldID(v any) string {
	m, _ := v.(ldNode)
	s, _ := m["@id"].(string)
	return s
}

// ldValue is a value object's value.
func ldValue(v any) string {
	m, _ := v.(ldNode)
	s, _ := m["@value"].(string)
	return s
}

// The open-data catalogue (issue 22) is DCAT-AP: parsed as JSON-LD by its own @context, the
// catalogue, each town's dataset and each closed month's distribution have DCAT-AP's
// mandatory properties and the recommended ones emitted; titles are tagged with the town's
// languages; a town with no closed month has a dataset without distributions; a closed
// month's download URL is its CSV; an unknown town is 404; the ETag changes with a close and
// If-None-Match answers 304; the licence is configurable.
func TestOpenDataCatalog(t *testing.T) {
	e := newTownsEnv(t)
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin,
		body: `{"languages":["sl","de"],"name":{"sl":"Ptuj","de":"Pettau"},"privacy":{"controller":"Mestna občina Ptuj","contact":"dpo@ptuj.si"}}`}, nil)
	get := func(t *testing.T, path, inm string, want int) (ldNode, string, []byte) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := e.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s: %d %s, want %d", path, resp.StatusCode, body, want)
		}
		if want != 200 {
			return nil, resp.Header.Get("ETag"), body
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/ld+json") {
			t.Fatalf("%s: Content-Type %q", path, ct)
		}
		if strings.Contains(string(body), `\u0026`) {
			t.Errorf("%s: the URLs' & is escaped as \\u0026", path)
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n, err := expandLD(doc)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return n, resp.Header.Get("ETag"), body
	}
	check := func(t *testing.T, cat ldNode) map[string]ldNode {
		t.Helper()
		if cat["@type"] != nsDCAT+"Catalog" {
			t.Fatalf("the document is a %v, not a dcat:Catalog", cat["@type"])
		}
		requireProps(t, "the catalogue", cat, dcatCatalogProps)
		for _, p := range ldNodes(t, cat, nsDCT+"publisher") {
			if p["@type"] != nsFOAF+"Agent" || len(ldAll(p, nsFOAF+"name")) == 0 {
				t.Errorf("the catalogue's publisher: %v", p)
			}
		}
		byID := map[string]ldNode{}
		for _, ds := range ldNodes(t, cat, nsDCAT+"dataset") {
			if ds["@type"] != nsDCAT+"Dataset" {
				t.Errorf("a dataset of type %v", ds["@type"])
			}
			requireProps(t, "dataset", ds, dcatDatasetProps)
			id, _ := ds[nsDCT+"identifier"].(string)
			byID[id] = ds
			if ldID(ds[nsDCAT+"theme"]) != "http://publications.europa.eu/resource/authority/data-theme/ECON" ||
				ldID(ds[nsDCT+"accrualPeriodicity"]) != "http://publications.europa.eu/resource/authority/frequency/MONTHLY" {
				t.Errorf("%s: theme %v, periodicity %v", id, ds[nsDCAT+"theme"], ds[nsDCT+"accrualPeriodicity"])
			}
			for _, cp := range ldNodes(t, ds, nsDCAT+"contactPoint") {
				if !strings.HasPrefix(cp["@type"].(string), nsVCard) || (ldID(cp[nsVCard+"hasEmail"]) == "" && ldID(cp[nsVCard+"hasURL"]) == "") {
					t.Errorf("%s: contact point %v", id, cp)
				}
			}
			for _, d := range ldNodes(t, ds, nsDCAT+"distribution") {
				if d["@type"] != nsDCAT+"Distribution" {
					t.Errorf("a distribution of type %v", d["@type"])
				}
				requireProps(t, "distribution", d, dcatDistributionProps)
				if ldID(d[nsDCT+"format"]) != euFileCSV || ldID(d[nsDCAT+"mediaType"]) != ianaTextCSV {
					t.Errorf("%v: format %v, media type %v", d["@id"], d[nsDCT+"format"], d[nsDCAT+"mediaType"])
				}
				for _, tm := range ldNodes(t, d, nsDCT+"temporal") {
					if tm["@type"] != nsDCT+"PeriodOfTime" || ldValue(tm[nsDCAT+"startDate"]) == "" || ldValue(tm[nsDCAT+"endDate"]) == "" {
						t.Errorf("%v: temporal %v", d["@id"], tm)
					}
				}
			}
		}
		return byID
	}
	langs := func(n ldNode, prop string) map[string]string {
		out := map[string]string{}
		for _, v := range ldAll(n, prop) {
			m, _ := v.(ldNode)
			l, _ := m["@language"].(string)
			s, _ := m["@value"].(string)
			out[l] = s
		}
		return out
	}

	// No month closed yet: a dataset per town, none with a distribution.
	cat, etag0, _ := get(t, "/api/v1/public/open-data/catalog", "", 200)
	ds := check(t, cat)
	if len(ds) != 2 || ds["citycard-open-data-koper"] == nil || ds["citycard-open-data-ptuj"] == nil {
		t.Fatalf("datasets %v, want koper's and ptuj's", keysOf(ds))
	}
	for id, d := range ds {
		if n := len(ldAll(d, nsDCAT+"distribution")); n != 0 {
			t.Errorf("%s has %d distributions before any close", id, n)
		}
	}
	if etag0 == "" {
		t.Fatal("no ETag")
	}

	// Ptuj closes September: its one distribution is that month's CSV, under the licence.
	if _, err := e.db.CloseMonth(context.Background(), "ptuj", merchant.Month{Year: 2026, Month: time.September}, encodeReport); err != nil {
		t.Fatal(err)
	}
	e.s.cfg.OpenDataLicense = "https://data.europa.eu/licence/example"
	cat, etag1, _ := get(t, "/api/v1/public/open-data/catalog?town=ptuj", "", 200)
	ds = check(t, cat)
	p := ds["citycard-open-data-ptuj"]
	if len(ds) != 1 || p == nil {
		t.Fatalf("?town=ptuj: datasets %v", keysOf(ds))
	}
	if l := langs(p, nsDCT+"title"); l["sl"] == "" || l["de"] == "" || len(l) != 2 || !strings.Contains(l["sl"], "Ptuj Card") {
		t.Errorf("ptuj's titles by language: %v", l)
	}
	if l := langs(p, nsDCT+"description"); !strings.Contains(l["de"], "Pettau") {
		t.Errorf("ptuj's German description: %v", l)
	}
	pub := ldNodes(t, p, nsDCT+"publisher")
	if len(pub) != 1 || pub[0][nsFOAF+"name"] != "Mestna občina Ptuj" {
		t.Errorf("ptuj's publisher: %v", pub)
	}
	if cp := ldNodes(t, p, nsDCAT+"contactPoint"); len(cp) != 1 || ldID(cp[0][nsVCard+"hasEmail"]) != "mailto:dpo@ptuj.si" {
		t.Errorf("ptuj's contact point: %v", cp)
	}
	dists := ldNodes(t, p, nsDCAT+"distribution")
	if len(dists) != 1 {
		t.Fatalf("ptuj has %d distributions, want September's", len(dists))
	}
	d := dists[0]
	if got := ldID(d[nsDCT+"license"]); got != "https://data.europa.eu/licence/example" {
		t.Errorf("licence %q", got)
	}
	tm := ldNodes(t, d, nsDCT+"temporal")[0]
	if ldValue(tm[nsDCAT+"startDate"]) != "2026-09-01" || ldValue(tm[nsDCAT+"endDate"]) != "2026-09-30" {
		t.Errorf("September's period: %v", tm)
	}
	dl := ldID(d[nsDCAT+"downloadURL"])
	if id, _ := d["@id"].(string); id == "" || id == dl {
		t.Errorf("the distribution's @id %q is not its own (the CSV is %q)", id, dl)
	}
	path, ok := strings.CutPrefix(dl, e.s.cfg.PublicURL)
	if !ok || ldID(d[nsDCAT+"accessURL"]) == "" {
		t.Fatalf("download URL %q is not on %s", dl, e.s.cfg.PublicURL)
	}
	resp, body := e.do(secReq{method: "GET", path: path})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(string(body), "date,category,") {
		t.Errorf("the download URL %s: %d %s %.80s", dl, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// The catalogue of every town changed with the close; an unchanged one is 304.
	_, etag2, _ := get(t, "/api/v1/public/open-data/catalog", "", 200)
	if etag2 == etag0 || etag1 == etag2 {
		t.Errorf("ETags %s, %s, %s: the close did not change the catalogue's", etag0, etag1, etag2)
	}
	get(t, "/api/v1/public/open-data/catalog", etag2, 304)
	get(t, "/api/v1/public/open-data/catalog", `"x", W/`+etag2, 304)
	get(t, "/api/v1/public/open-data/catalog", etag0, 200)
	e.call(t, 404, "town_not_found", secReq{method: "GET", path: "/api/v1/public/open-data/catalog?town=maribor"}, nil)
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

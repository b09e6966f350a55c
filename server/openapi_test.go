package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"gopkg.in/yaml.v3"
)

// The OpenAPI document is the contract's machine-readable form: clients generate code from it,
// so a route the service serves but the document lacks (or the reverse) breaks them.

const openAPIPath = "../docs/openapi.yaml"

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIOp is one operation of the document.
type openAPIOp struct {
	method, path string // upper-case method, templated path as written in the document
	node         map[string]any
}

func (o openAPIOp) String() string { return o.method + " " + o.path }

// loadOpenAPI parses docs/openapi.yaml and returns the document and its operations.
func loadOpenAPI(t *testing.T) (map[string]any, []openAPIOp) {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	if got, want := doc["openapi"], "3.1.0"; got != want {
		t.Fatalf("openapi = %v, want %v", got, want)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok || len(paths) == 0 {
		t.Fatal("document has no paths")
	}
	var ops []openAPIOp
	for p, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range openAPIMethods {
			node, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			// Every operation is served now: a marker for "not built yet" would only be a way
			// around TestOpenAPIMatchesRoutes.
			if stage, ok := node["x-stage"]; ok {
				t.Errorf("%s %s: x-stage %v; every documented operation must be served", strings.ToUpper(m), p, stage)
			}
			ops = append(ops, openAPIOp{method: strings.ToUpper(m), path: p, node: node})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return doc, ops
}

// openAPIServer is the real app on a fresh database, with a known admin token.
func openAPIServer(t *testing.T) (*server, *fiber.App) {
	t.Helper()
	ts := newTestServer(t, asServed(), realClock(), withAdmin("cca_openapi-test-0123456789abcdefghij"), rateLimit(0),
		publicURL(defaultConfig().PublicURL), logTo(io.Discard),
		withConfig(func(c *Config) {
			c.MetricsToken = "metrics-openapi-test-0123456789abcdef" // so /metrics is served, to a bearer
		}))
	// This test sends dozens of requests without a secret from one address; the failed
	// sign-in limit (tested in ratelimit_test.go) would answer them 429.
	ts.s.limits.signin = newLimiter(1_000_000, 1_000_000)
	return ts.s, ts.app
}

var fiberParam = regexp.MustCompile(`^:([A-Za-z0-9_]+)\??$`)

// openAPITemplate turns a Fiber route path into the document's form: ":id" is "{id}" and the
// wildcard "*" is "{path}".
func openAPITemplate(route string) string {
	segs := strings.Split(route, "/")
	for i, s := range segs {
		if m := fiberParam.FindStringSubmatch(s); m != nil {
			segs[i] = "{" + m[1] + "}"
		} else if s == "*" || s == "+" {
			segs[i] = "{path}"
		}
	}
	return strings.Join(segs, "/")
}

// registeredRoutes lists the app's routes as "METHOD /templated/path", without HEAD (Fiber
// adds one to every GET) and without middleware (Use and group handlers).
func registeredRoutes(app *fiber.App) map[string]bool {
	out := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		out[r.Method+" "+openAPITemplate(r.Path)] = true
	}
	return out
}

func TestOpenAPITemplate(t *testing.T) {
	for route, want := range map[string]string{
		"/api/v1/cards/:id/qr.png": "/api/v1/cards/{id}/qr.png",
		"/c/:token":                "/c/{token}",
		"/static/*":                "/static/{path}",
		"/healthz":                 "/healthz",
	} {
		if got := openAPITemplate(route); got != want {
			t.Errorf("openAPITemplate(%q) = %q, want %q", route, got, want)
		}
	}
}

// TestOpenAPIMatchesRoutes checks both directions: every route the service registers is in
// the document, and every documented operation is registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	_, ops := loadOpenAPI(t)
	_, app := openAPIServer(t)
	routes := registeredRoutes(app)
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered: GetRoutes is not seeing the app", len(routes))
	}
	documented := map[string]bool{}
	for _, op := range ops {
		documented[op.String()] = true
		if !routes[op.String()] {
			t.Errorf("%s is documented in %s but not registered", op, openAPIPath)
		}
	}
	var missing []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	for _, r := range missing {
		t.Errorf("%s is registered but not documented in %s", r, openAPIPath)
	}
}

// TestOpenAPISecurity checks each served operation's security against the service: without a
// secret, an operation that needs one answers 401 unauthorized and a public one does not.
func TestOpenAPISecurity(t *testing.T) {
	doc, ops := loadOpenAPI(t)
	schemes, _ := openAPIGet(doc, "components", "securitySchemes").(map[string]any)
	for _, name := range []string{"adminToken", "merchantKey"} {
		sc, _ := schemes[name].(map[string]any)
		if sc["type"] != "http" || sc["scheme"] != "bearer" {
			t.Errorf("security scheme %s = %v, want HTTP bearer", name, sc)
		}
	}
	_, app := openAPIServer(t)
	routes := registeredRoutes(app)
	for _, op := range ops {
		sec, ok := op.node["security"].([]any)
		if !ok {
			t.Errorf("%s: no security (use [] for a public operation)", op)
			continue
		}
		var needs []string
		for _, req := range sec {
			for name := range req.(map[string]any) {
				if schemes[name] == nil {
					t.Errorf("%s: unknown security scheme %q", op, name)
				}
				needs = append(needs, name)
			}
		}
		if !routes[op.String()] {
			continue // reported by TestOpenAPIMatchesRoutes
		}
		path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.path, "x")
		req := httptest.NewRequest(op.method, path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusUnauthorized; got != (len(needs) > 0) {
			t.Errorf("%s without a secret: status %d, but the document's security is %v", op, resp.StatusCode, needs)
		}
		if len(needs) > 0 && op.node["responses"].(map[string]any)["401"] == nil {
			t.Errorf("%s needs a secret but documents no 401", op)
		}
	}
}

// serverErrorCodes is every error code the service can answer with, and its status, taken from
// the error table and the error handler rather than written out again.
func serverErrorCodes() map[string]int {
	out := map[string]int{}
	for _, e := range errorTable {
		out[e.code] = e.status
	}
	for _, err := range []error{errUnauthorized, errForbidden, badRequest("x"), errors.New("boom"), errNotReady, errTownRequired, errTownNotFound, errRateLimited,
		fiber.ErrNotFound, fiber.ErrMethodNotAllowed, fiber.ErrRequestEntityTooLarge, fiber.ErrRequestTimeout, fiber.ErrTooManyRequests} {
		status, code, _ := classify(err)
		out[code] = status
	}
	return out
}

// TestOpenAPIErrorCodes checks that every JSON error response names its codes, that each code
// of a served operation is one the service has, with the status the service gives it, and that
// every code of the error table is documented somewhere.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc, ops := loadOpenAPI(t)
	known := serverErrorCodes()
	seen := map[string]bool{}
	for _, op := range ops {
		responses, _ := op.node["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s: no responses", op)
		}
		for status, resp := range responses {
			n, err := strconv.Atoi(status)
			if err != nil {
				t.Errorf("%s: response %q is not a status code", op, status)
				continue
			}
			resp := openAPIDeref(t, doc, resp)
			schema := openAPIGet(resp, "content", "application/json", "schema")
			if n < 400 || schema == nil {
				continue
			}
			if ref, _ := openAPIGet(schema, "$ref").(string); ref != "#/components/schemas/Error" {
				t.Errorf("%s %s: error schema is %v, want the Error schema", op, status, ref)
			}
			codes, _ := openAPIGet(schema, "properties", "error", "properties", "code", "enum").([]any)
			if len(codes) == 0 {
				t.Errorf("%s %s: no error code enum", op, status)
			}
			for _, c := range codes {
				code, _ := c.(string)
				seen[code] = true
				want, ok := known[code]
				switch {
				case !ok:
					t.Errorf("%s %s: code %q is not one the service answers with", op, status, code)
				case want != n:
					t.Errorf("%s %s: code %q, but the service answers it with status %d", op, status, code, want)
				}
			}
		}
	}
	for _, e := range errorTable {
		if !seen[e.code] {
			t.Errorf("error code %q (status %d) is documented nowhere in %s", e.code, e.status, openAPIPath)
		}
	}
}

// TestOpenAPIRefs checks that every $ref of the document points at something.
func TestOpenAPIRefs(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	var walk func(v any)
	n := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				n++
				openAPIDeref(t, doc, map[string]any{"$ref": ref})
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if n == 0 {
		t.Fatal("no $ref found")
	}
}

// TestOpenAPINoEmptyValues catches a YAML slip that still parses: in a flow mapping such as
// {type: string, description: One, two.} the comma ends the description and makes "two." a
// key with no value, so the document silently says less than its author wrote (and Redocly's
// lint, run by .ci/lint-openapi, rejects the stray key). Nothing in the document is null on
// purpose.
func TestOpenAPINoEmptyValues(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if x == nil {
					t.Errorf("%s/%s has no value: an unquoted comma in a {flow: mapping}?", at, k)
				}
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
}

// openAPIGet follows keys through nested maps; nil if any is missing.
func openAPIGet(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// openAPIDeref resolves a local $ref ("#/a/b"), repeatedly; v itself if it has none.
func openAPIDeref(t *testing.T, doc map[string]any, v any) any {
	t.Helper()
	for i := 0; i < 10; i++ {
		ref, ok := openAPIGet(v, "$ref").(string)
		if !ok {
			return v
		}
		if !strings.HasPrefix(ref, "#/") {
			t.Fatalf("$ref %q is not local", ref)
		}
		var keys []string
		for _, k := range strings.Split(ref[2:], "/") {
			keys = append(keys, strings.NewReplacer("~1", "/", "~0", "~").Replace(k))
		}
		if v = openAPIGet(doc, keys...); v == nil {
			t.Fatalf("$ref %q points at nothing", ref)
		}
	}
	t.Fatal("$ref chain too long")
	return nil
}

// TestOpenAPIAbuseLimits checks that 429 (with Retry-After) is documented exactly where the
// service can answer it, taken from the limiter's own rules: on every operation that takes a
// secret (failed sign-ins) and on every path limited by client address; and that 413 is
// documented on every operation that takes a body.
func TestOpenAPIAbuseLimits(t *testing.T) {
	doc, ops := loadOpenAPI(t)
	for _, op := range ops {
		sec, _ := op.node["security"].([]any)
		path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.path, "x")
		want := len(sec) > 0 || limitedByAddress(path)
		responses, _ := op.node["responses"].(map[string]any)
		r, got := responses["429"]
		if got != want {
			t.Errorf("%s: 429 documented %v, but the service can answer it: %v", op, got, want)
		}
		if got && openAPIGet(openAPIDeref(t, doc, r), "headers", "Retry-After") == nil {
			t.Errorf("%s: 429 without a Retry-After header", op)
		}
		if _, body := op.node["requestBody"]; body && responses["413"] == nil {
			t.Errorf("%s takes a body but documents no 413", op)
		}
	}
}

// TestOpenAPIReportResponses drives the reporting, settlement and audit operations through a
// hand-computed month (closed months, adjustments, a broken ledger) and checks each answer
// against the document: JSON bodies against their schemas, which are strict about field names,
// and the content types, headers and CSV columns of the other formats.
func TestOpenAPIReportResponses(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	k := newKoperMonth(t) // September closed, October open with an adjustment, today November 2
	e := k.reportEnv
	check := func(method, path, template, secret string, wantStatus int) (*http.Response, []byte) {
		t.Helper()
		resp, body := e.do(method, path, secret, "")
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, body, wantStatus)
		}
		openAPICheckResponse(t, doc, method, template, resp, body)
		return resp, body
	}
	const (
		report     = "/api/v1/reports/monthly"
		closeMonth = "/api/v1/reports/monthly/{month}/close"
		statements = "/api/v1/reports/statements"
		till       = "/api/v1/pos/statements"
	)
	_, oct := check("GET", report+"?month=2026-10", report, e.admin, 200)
	if !strings.Contains(string(oct), `"discount":"-2.00"`) {
		t.Fatalf("October has no negative money to check the schema with: %s", oct)
	}
	resp, _ := check("GET", report+"?month=2026-09", report, e.admin, 200)
	if resp.Header.Get("X-Report-SHA256") != k.septemberClose.SHA256 {
		t.Errorf("closed September: X-Report-SHA256 %q", resp.Header.Get("X-Report-SHA256"))
	}
	for _, f := range []string{"csv", "pdf"} {
		resp, _ := check("GET", report+"?month=2026-09&format="+f, report, e.admin, 200)
		if resp.Header.Get("X-Report-SHA256") == "" || resp.Header.Get("Content-Disposition") == "" {
			t.Errorf("closed September as %s: headers %v", f, resp.Header)
		}
	}
	_, b := check("GET", statements+"?month=2026-10", statements, e.admin, 200)
	if !strings.Contains(string(b), `"report_sha256":null`) || !strings.Contains(string(b), `"adjustments":[{`) {
		t.Fatalf("open October's statements lack what the test checks: %s", b)
	}
	check("POST", "/api/v1/reports/monthly/2026-10/close", closeMonth, e.admin, 200)
	for _, f := range []string{"json", "csv", "pdf"} {
		check("GET", statements+"?month=2026-10&format="+f, statements, e.admin, 200)
		check("GET", statements+"?month=2026-10&merchant="+k.cafe.id+"&format="+f, statements, e.admin, 200)
		check("GET", till+"?month=2026-10&format="+f, till, k.shoe.key, 200)
	}
	// A void in a month with nothing else: every total of December is negative.
	e.void(local(2026, 12, 5, 9, 0), k.f, "refund")
	_, b = check("GET", report+"?month=2026-12", report, e.admin, 200)
	if !strings.Contains(string(b), `"municipal_share":"-0.50"`) {
		t.Fatalf("December has no negative totals to check the schema with: %s", b)
	}
	check("GET", statements+"?month=2026-12", statements, e.admin, 200)
	check("GET", "/api/v1/reports/open-data?month=2026-10", "/api/v1/reports/open-data", "", 200)
	check("GET", "/api/v1/public/keys", "/api/v1/public/keys", "", 200)
	_, b = check("GET", "/api/v1/audit", "/api/v1/audit", e.admin, 200)
	if !strings.Contains(string(b), `"report.close"`) {
		t.Fatalf("audit log lacks the closes: %s", b)
	}

	const verify = "/api/v1/ledger/verify"
	check("GET", verify, verify, e.admin, 200)
	db, err := storagetest.SQLOpen(t, e.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tamper := range []struct{ sql, firstBad string }{
		{`UPDATE month_closes SET report = report || ' ' WHERE month = '2026-09'`, `"first_bad":"close:2026-09"`},
		{`UPDATE redemptions SET amount_cents = amount_cents + 1 WHERE id = '` + k.d + `'`, `"redemption_id":"` + k.d + `"`},
	} {
		if _, err := db.Exec(tamper.sql); err != nil {
			t.Fatal(err)
		}
		if _, b := check("GET", verify, verify, e.admin, 200); !strings.Contains(string(b), tamper.firstBad) {
			t.Errorf("after %s: %s, want %s", tamper.sql, b, tamper.firstBad)
		}
	}
}

// openAPICheckResponse checks an answer of the operation method+template against the
// document: its content type must be documented for its status; a JSON body must match the
// schema, a CSV body must start with the header line of the documented example.
func openAPICheckResponse(t *testing.T, doc map[string]any, method, template string, resp *http.Response, body []byte) {
	t.Helper()
	op := openAPIGet(doc, "paths", template, strings.ToLower(method))
	r := openAPIGet(op, "responses", strconv.Itoa(resp.StatusCode))
	if r == nil {
		t.Errorf("%s %s: status %d is not documented", method, template, resp.StatusCode)
		return
	}
	ctype := resp.Header.Get("Content-Type")
	media := openAPIGet(openAPIDeref(t, doc, r), "content", ctype)
	if media == nil {
		t.Errorf("%s %s %d: Content-Type %q is not documented", method, template, resp.StatusCode, ctype)
		return
	}
	switch {
	case ctype == "application/json":
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s %s: %v", method, template, err)
		}
		if errs := openAPIValidate(t, doc, openAPIGet(media, "schema"), v, "$"); len(errs) > 0 {
			t.Errorf("%s %s %d does not match the document:\n\t%s\nin %s", method, template, resp.StatusCode,
				strings.Join(errs, "\n\t"), body)
		}
	case strings.HasPrefix(ctype, "text/csv"):
		example, _ := openAPIGet(media, "example").(string)
		want, _, _ := strings.Cut(example, "\r\n")
		got, _, _ := strings.Cut(string(body), "\r\n")
		if want == "" || got != want {
			t.Errorf("%s %s: CSV columns %q, documented %q", method, template, got, want)
		}
	}
}

// openAPIValidate checks v (decoded JSON) against a schema of the document, with the parts of
// JSON Schema the document uses: $ref, type, const, enum, pattern, min/max, required,
// properties, additionalProperties, unevaluatedProperties (over allOf), items, allOf, anyOf,
// oneOf. It returns what does not match, each with its place in v.
func openAPIValidate(t *testing.T, doc map[string]any, schema, v any, at string) []string {
	t.Helper()
	s, _ := openAPIDeref(t, doc, schema).(map[string]any)
	if s == nil {
		return []string{at + ": no schema"}
	}
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, a...)) }
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, openAPIValidate(t, doc, sub, v, at)...)
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		subs := asList(s[key])
		if len(subs) == 0 {
			continue
		}
		n := 0
		for _, sub := range subs {
			if len(openAPIValidate(t, doc, sub, v, at)) == 0 {
				n++
			}
		}
		if n == 0 || (key == "oneOf" && n > 1) {
			fail("%s: %d of %d schemas match", key, n, len(subs))
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, v) {
		fail("%v, want %v", v, c)
	}
	if enum, ok := s["enum"]; ok && !slices.ContainsFunc(asList(enum), func(e any) bool { return jsonEqual(e, v) }) {
		fail("%v is not one of %v", v, enum)
	}
	if types := asList(s["type"]); len(types) > 0 && !slices.ContainsFunc(types, func(ty any) bool { return jsonType(v, ty.(string)) }) {
		fail("%v is not of type %v", v, types)
		return errs
	}
	switch v := v.(type) {
	case string:
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			fail("%q does not match %s", v, p)
		}
	case float64:
		if m, ok := s["minimum"].(int); ok && v < float64(m) {
			fail("%v below %d", v, m)
		}
		if m, ok := s["maximum"].(int); ok && v > float64(m) {
			fail("%v above %d", v, m)
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, x := range v {
				errs = append(errs, openAPIValidate(t, doc, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				fail("no %q", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for name, x := range v {
			if p, ok := props[name]; ok {
				errs = append(errs, openAPIValidate(t, doc, p, x, at+"."+name)...)
			} else if ap, ok := s["additionalProperties"]; ok && ap != false {
				errs = append(errs, openAPIValidate(t, doc, ap, x, at+"."+name)...)
			}
		}
		evaluated := openAPIEvaluated(t, doc, s)
		for name := range v {
			if (s["additionalProperties"] == false && props[name] == nil) || (s["unevaluatedProperties"] == false && !evaluated[name]) {
				fail("%q is not documented", name)
			}
		}
	}
	return errs
}

// openAPIEvaluated is the property names a schema and its allOf parts declare.
func openAPIEvaluated(t *testing.T, doc map[string]any, schema any) map[string]bool {
	s, _ := openAPIDeref(t, doc, schema).(map[string]any)
	out := map[string]bool{}
	for name := range openAPIGetMap(s, "properties") {
		out[name] = true
	}
	for _, sub := range asList(s["allOf"]) {
		for name := range openAPIEvaluated(t, doc, sub) {
			out[name] = true
		}
	}
	return out
}

func openAPIGetMap(v any, key string) map[string]any {
	m, _ := openAPIGet(v, key).(map[string]any)
	return m
}

// asList is v as a list: a YAML sequence, or a single value.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// jsonType says whether decoded JSON v is of JSON Schema type ty.
func jsonType(v any, ty string) bool {
	switch v := v.(type) {
	case nil:
		return ty == "null"
	case bool:
		return ty == "boolean"
	case string:
		return ty == "string"
	case float64:
		return ty == "number" || (ty == "integer" && v == math.Trunc(v))
	case []any:
		return ty == "array"
	case map[string]any:
		return ty == "object"
	}
	return false
}

// jsonEqual compares a YAML value of the document with decoded JSON (whose numbers are float64).
func jsonEqual(yamlValue, jsonValue any) bool {
	if n, ok := yamlValue.(int); ok {
		yamlValue = float64(n)
	}
	return reflect.DeepEqual(yamlValue, jsonValue)
}

package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

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
	stage2       bool   // x-stage: 2, not necessarily served yet
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
			stage := node["x-stage"]
			if stage != nil && stage != 2 {
				t.Errorf("%s %s: x-stage is %v; only 2 is known", strings.ToUpper(m), p, stage)
			}
			ops = append(ops, openAPIOp{method: strings.ToUpper(m), path: p, stage2: stage == 2, node: node})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return doc, ops
}

// openAPIServer is the real app on a fresh database, with a known admin token.
func openAPIServer(t *testing.T) (*server, *fiber.App) {
	t.Helper()
	cfg := defaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "citycard.db")
	cfg.AdminToken = "cca_openapi-test"
	cfg.RateLimit = 0
	loc, err := time.LoadLocation(cfg.TZ)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Loc = loc
	db, keys, token, _, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := newServer(cfg, db, keys, token, slog.New(slog.DiscardHandler))
	// This test sends dozens of requests without a secret from one address; the failed
	// sign-in limit (tested in ratelimit_test.go) would answer them 429.
	s.limits.signin = newLimiter(1_000_000, 1_000_000)
	return s, s.app()
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
// the document, and every documented operation is registered, except those of the second
// stage (x-stage: 2), which may not be built yet.
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
		switch {
		case routes[op.String()]:
		case op.stage2:
			t.Logf("%s (x-stage: 2) is not served yet", op)
		default:
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
			continue // second stage, not served yet
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
	for _, err := range []error{errUnauthorized, errForbidden, badRequest("x"), errors.New("boom"),
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
				case !ok && !op.stage2:
					t.Errorf("%s %s: code %q is not one the service answers with", op, status, code)
				case ok && want != n:
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

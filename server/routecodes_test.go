package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every error a route answers must be in docs/openapi.yaml for that route, status and code:
// a validating proxy (Stoplight Prism) in front of the service found admin routes answering
// 400 town_required and 404 town_not_found that the document did not list. The tests'
// requests (testServer.do and the other in-process callers) record what each route answers
// (observeError); TestMain fails the package when one of those is not in the document.

// routeCode is one error answer seen: the route as the document writes it, its method,
// status and code.
type routeCode struct {
	path, method string
	status       int
	code         string
}

var observed = struct {
	sync.Mutex
	seen map[routeCode]string // → an example request
}{seen: map[routeCode]string{}}

// observeError records an error answer of the API (a JSON body {"error":{"code":…}}).
func observeError(method, target string, status int, body []byte) {
	if status < 400 || status >= 500 { // a 5xx (internal_error) may come from any route
		return
	}
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" {
		return
	}
	path, _, _ := strings.Cut(target, "?")
	if i := strings.Index(path, "://"); i >= 0 { // an absolute URL
		if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
			path = path[i+3+j:]
		}
	}
	observed.Lock()
	defer observed.Unlock()
	k := routeCode{path: path, method: method, status: status, code: eb.Error.Code}
	if _, ok := observed.seen[k]; !ok {
		observed.seen[k] = method + " " + target
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if problems := undocumentedRouteCodes(); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "--- FAIL: TestMain: %d error answers seen in the tests are not in %s for their route:\n", len(problems), openAPIPath)
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "    "+p)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// docRoute is one templated path of the document and its pattern.
type docRoute struct {
	path   string
	re     *regexp.Regexp
	params int
}

// undocumentedRouteCodes checks the observed answers against the document. A request whose
// path is no route of the document (an unknown route, a page) or whose method the route does
// not have is not checked here (TestOpenAPIMatchesRoutes covers the routes).
func undocumentedRouteCodes() []string {
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		return []string{err.Error()}
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return []string{err.Error()}
	}
	paths, _ := doc["paths"].(map[string]any)
	var routes []docRoute
	for p := range paths {
		expr := regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`)
		routes = append(routes, docRoute{path: p, re: regexp.MustCompile("^" + expr + "$"), params: strings.Count(p, "{")})
	}
	deref := func(v any) any {
		for i := 0; i < 10; i++ {
			ref, ok := openAPIGet(v, "$ref").(string)
			if !ok || !strings.HasPrefix(ref, "#/") {
				return v
			}
			v = openAPIGet(doc, strings.Split(ref[2:], "/")...)
		}
		return v
	}
	observed.Lock()
	defer observed.Unlock()
	problems := map[string]string{} // one line per route, status and code → an example
	for k, example := range observed.seen {
		var best *docRoute
		for i := range routes {
			if routes[i].re.MatchString(k.path) && (best == nil || routes[i].params < best.params) {
				best = &routes[i]
			}
		}
		if best == nil {
			continue
		}
		op, ok := openAPIGet(paths[best.path], strings.ToLower(k.method)).(map[string]any)
		if !ok {
			continue
		}
		resp := deref(openAPIGet(op, "responses", strconv.Itoa(k.status)))
		if resp == nil {
			problems[fmt.Sprintf("%s %s: status %d (%s) not documented", k.method, best.path, k.status, k.code)] = example
			continue
		}
		codes, _ := openAPIGet(resp, "content", "application/json", "schema", "properties", "error", "properties", "code", "enum").([]any)
		found := false
		for _, c := range codes {
			found = found || c == k.code
		}
		if !found {
			problems[fmt.Sprintf("%s %s: %d %s not among %v", k.method, best.path, k.status, k.code, codes)] = example
		}
	}
	var out []string
	for p, example := range problems {
		out = append(out, p+" (e.g. "+example+")")
	}
	sort.Strings(out)
	return out
}

// TestAdminRoutesTownErrors calls every admin operation of the document as the network admin
// of a deployment of two towns, once naming no town and once naming an unknown one, and
// requires the answers the auth middleware and townOf give: 404 town_not_found for an
// unknown Citycard-Town everywhere, and, naming none, either an answer about the request
// itself or 400 town_required. The answers are recorded like every other (observeError),
// so TestMain fails if the document does not list them for the route.
func TestAdminRoutesTownErrors(t *testing.T) {
	e := newTownsEnv(t)
	_, ops := loadOpenAPI(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for _, op := range ops {
		sec, _ := json.Marshal(op.node["security"])
		if !strings.Contains(string(sec), "adminToken") {
			continue
		}
		n++
		path := param.ReplaceAllString(op.path, "x")
		body := ""
		if op.method != "GET" && op.method != "DELETE" {
			body = "{}"
		}
		resp, b := e.do(secReq{method: op.method, path: path, secret: e.admin, body: body, header: map[string]string{HeaderTown: "nowhere"}})
		if resp.StatusCode != 404 || !strings.Contains(string(b), `"town_not_found"`) {
			t.Errorf("%s with Citycard-Town: nowhere: %d %s, want 404 town_not_found", op, resp.StatusCode, b)
		}
		e.do(secReq{method: op.method, path: path, secret: e.admin, body: body})
	}
	if n < 30 {
		t.Fatalf("only %d admin operations", n)
	}
}

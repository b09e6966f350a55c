package main

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

// Who may call a route.
const (
	public    = "public"   // anyone, with or without a secret
	adminOnly = "admin"    // the admin token; 401 without a valid secret, 403 for a merchant key
	tillOnly  = "merchant" // a merchant key; 401 without a valid secret, 403 for the admin token
)

// What merchant B gets on a till route called with merchant A's resources.
const (
	statusOK = 0   // any 2xx: the route is about B's own things
	notFound = 404 // A's offer or redemption does not exist for B
)

// authzCase is what one route expects. path and body may hold {card}, {token}, {merchant},
// {offer} and {redemption}: merchant A's resources and the card.
type authzCase struct {
	who     string
	path    string // defaults to the route's path
	body    string
	header  map[string]string
	other   int  // for till routes: merchant B's status on the request (statusOK or notFound)
	changes bool // a 2xx changes data, so it must be in the audit log (once per thing changed)
}

// authzRoutes is every route of the app and who may call it. A route registered in routes.go
// without an entry here fails TestAuthorizationMatrix: decide who may call it, then add it.
var authzRoutes = map[string]authzCase{
	"GET /healthz":                              {who: public},
	"GET /c/:token":                             {who: public, path: "/c/{token}"},
	"GET /c/:token/qr.png":                      {who: public, path: "/c/{token}/qr.png"},
	"GET /static/*":                             {who: public, path: "/static/card.css"},
	"GET /c/:token/manifest.webmanifest":        {who: public, path: "/c/{token}/manifest.webmanifest"},
	"GET /sw.js":                                {who: public},
	"GET /pos":                                  {who: public},
	"GET /admin":                                {who: public},
	"GET /api/v1/public/cards/:token":           {who: public, path: "/api/v1/public/cards/{token}"},
	"GET /api/v1/public/offers":                 {who: public},
	"GET /api/v1/public/keys":                   {who: public},
	"GET /api/v1/public/ledger/checkpoints":     {who: public},
	"GET /api/v1/products":                      {who: adminOnly},
	"GET /api/v1/cards":                         {who: adminOnly},
	"GET /api/v1/cards/:id":                     {who: adminOnly, path: "/api/v1/cards/{card}"},
	"GET /api/v1/cards/:id/qr.png":              {who: adminOnly, path: "/api/v1/cards/{card}/qr.png"},
	"GET /api/v1/batches":                       {who: adminOnly, path: "/api/v1/batches?q=hotel"},
	"GET /api/v1/batches/:id":                   {who: adminOnly, path: "/api/v1/batches/{batch}"},
	"GET /api/v1/batches/:id/sheet.pdf":         {who: adminOnly, path: "/api/v1/batches/{batch}/sheet.pdf"},
	"GET /api/v1/cards/sheet.pdf":               {who: adminOnly, path: "/api/v1/cards/sheet.pdf?ids={card}"},
	"GET /api/v1/merchants":                     {who: adminOnly},
	"GET /api/v1/merchants/:id":                 {who: adminOnly, path: "/api/v1/merchants/{merchant}"},
	"GET /api/v1/offers":                        {who: adminOnly, path: "/api/v1/offers?merchant={merchant}"},
	"GET /api/v1/offers/:id":                    {who: adminOnly, path: "/api/v1/offers/{offer}"},
	"GET /api/v1/redemptions":                   {who: adminOnly},
	"GET /api/v1/reports/monthly":               {who: adminOnly, path: "/api/v1/reports/monthly?month=2026-10"},
	"GET /api/v1/reports/network":               {who: adminOnly, path: "/api/v1/reports/network?month=2026-10"},
	"GET /api/v1/audit":                         {who: adminOnly},
	"GET /api/v1/reports/statements":            {who: adminOnly, path: "/api/v1/reports/statements?month=2026-10"},
	"GET /api/v1/ledger/verify":                 {who: adminOnly},
	"GET /api/v1/reports/open-data":             {who: public, path: "/api/v1/reports/open-data?month=2026-10"},
	"GET /api/v1/pos/statements":                {who: tillOnly, other: statusOK, path: "/api/v1/pos/statements?month=2026-10"},
	"POST /api/v1/reports/monthly/:month/close": {who: adminOnly, changes: true, path: "/api/v1/reports/monthly/2020-01/close"},
	"GET /api/v1/pos/me":                        {who: tillOnly, other: statusOK},
	"GET /api/v1/pos/redemptions":               {who: tillOnly, other: statusOK},
	"POST /api/v1/products":                     {who: adminOnly, changes: true, body: `{"code":"koper-24h","name":{"en":"Koper 24 h"},"validity_hours":24,"price":"15.00","audience":"tourist"}`},
	"POST /api/v1/cards":                        {who: adminOnly, changes: true, body: `{"product":"koper-72h"}`},
	"POST /api/v1/cards/batch":                  {who: adminOnly, changes: true, body: `{"product":"koper-72h","count":3}`},
	"POST /api/v1/cards/:id/block":              {who: adminOnly, changes: true, path: "/api/v1/cards/{card}/block", body: `{"reason":"lost"}`},
	"POST /api/v1/cards/:id/unblock":            {who: adminOnly, changes: true, path: "/api/v1/cards/{card}/unblock", body: `{}`},
	"POST /api/v1/merchants":                    {who: adminOnly, changes: true, body: `{"name":"Muzej","category":"museum"}`},
	"POST /api/v1/merchants/:id/key":            {who: adminOnly, changes: true, path: "/api/v1/merchants/{merchant}/key"},
	"POST /api/v1/merchants/:id/offers":         {who: adminOnly, changes: true, path: "/api/v1/merchants/{merchant}/offers", body: `{"title":{"en":"Free coffee"},"kind":"free","limit":"once"}`},
	"POST /api/v1/redemptions/:id/void":         {who: adminOnly, changes: true, path: "/api/v1/redemptions/{redemption}/void", body: `{"reason":"till error"}`},
	"PATCH /api/v1/merchants/:id":               {who: adminOnly, changes: true, path: "/api/v1/merchants/{merchant}", body: `{"address":"Titov trg 1, Koper"}`},
	"PATCH /api/v1/offers/:id":                  {who: adminOnly, changes: true, path: "/api/v1/offers/{offer}", body: `{"active":false}`},
	"POST /api/v1/pos/check":                    {who: tillOnly, other: statusOK, body: `{"card":"{token}"}`},
	"POST /api/v1/pos/quote":                    {who: tillOnly, other: notFound, body: `{"card":"{token}","offer_id":"{offer}","amount":"20.00"}`},
	"POST /api/v1/pos/redemptions":              {who: tillOnly, other: notFound, changes: true, body: `{"card":"{token}","offer_id":"{offer}","amount":"20.00"}`, header: map[string]string{"Idempotency-Key": "authz-1"}},
	"POST /api/v1/pos/redemptions/:id/void":     {who: tillOnly, other: notFound, changes: true, path: "/api/v1/pos/redemptions/{redemption}/void", body: `{"reason":"wrong item"}`},
	"GET /api/v1/public/towns":                  {who: public},
	"POST /api/v1/towns":                        {who: adminOnly, changes: true, body: `{"code":"kranj","name":{"sl":"Kranj"},"timezone":"Europe/Ljubljana","languages":["sl"]}`},
	"GET /api/v1/towns":                         {who: adminOnly},
	"GET /api/v1/towns/:code":                   {who: adminOnly, path: "/api/v1/towns/koper"},
	"PATCH /api/v1/towns/:code":                 {who: adminOnly, changes: true, path: "/api/v1/towns/koper", body: `{"public_url":"https://koper.example"}`},
	"POST /api/v1/towns/:code/tokens":           {who: adminOnly, changes: true, path: "/api/v1/towns/koper/tokens", body: `{"label":"Koper office"}`},
	"GET /api/v1/towns/:code/tokens":            {who: adminOnly, path: "/api/v1/towns/koper/tokens"},
	"DELETE /api/v1/towns/:code/tokens/:id":     {who: adminOnly, changes: true, path: "/api/v1/towns/koper/tokens/{officetoken}"},
}

// TestAuthorizationMatrix calls every route registered in the app as no one, with a wrong
// secret, as merchant A, as merchant B and as the admin, each route on a fresh database, and
// checks the status: 401 without a valid secret, 403 for the wrong role, 404 for another
// merchant's resources, 2xx otherwise. Every 2xx that changes data leaves one audit entry
// naming the caller; nothing else does.
func TestAuthorizationMatrix(t *testing.T) {
	routes := newSecEnv(t, 0).app.GetRoutes(true)
	seen := map[string]bool{}
	for _, r := range routes {
		key := r.Method + " " + r.Path
		if r.Method == http.MethodHead {
			key = http.MethodGet + " " + r.Path // Fiber adds HEAD to every GET: same rule
		}
		seen[key] = true
		tc, ok := authzRoutes[key]
		if !ok {
			t.Errorf("route %s %s has no entry in authzRoutes: decide who may call it", r.Method, r.Path)
			continue
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) { checkAuthz(t, r.Method, r.Path, tc) })
	}
	var stale []string
	for k := range authzRoutes {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("authzRoutes has entries for routes the app does not have: %v", stale)
	}
}

func checkAuthz(t *testing.T, method, route string, tc authzCase) {
	e := newSecEnv(t, 0)
	ctx := context.Background()
	ref, err := e.s.keys.ParseInput(e.card.Token, false)
	if err != nil {
		t.Fatal(err)
	}
	red, _, err := e.db.Redeem(ctx, merchant.RedeemRequest{MerchantID: e.merchA.ID, CardInput: e.card.Token,
		OfferID: e.offerA.ID, Amount: 1000, IdempotencyKey: "setup"}, ref)
	if err != nil {
		t.Fatal(err)
	}
	batch := card.Batch{Town: "koper", Product: e.card.Product, Count: 2, Name: "Hotel Histria"}
	if _, err := e.db.CreateBatch(ctx, e.s.keys, &batch); err != nil {
		t.Fatal(err)
	}
	tok, err := e.db.CreateOfficeToken(ctx, "koper", "setup", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{batch}", batch.ID, "{officetoken}", tok.ID, "{card}", e.card.ID, "{token}", e.card.Token, "{merchant}", e.merchA.ID,
		"{offer}", e.offerA.ID, "{redemption}", red.ID)
	path := route
	if tc.path != "" {
		path = tc.path
	}
	path, body := fill.Replace(path), fill.Replace(tc.body)

	type caller struct {
		name, secret, actor string
		want                int
	}
	callers := []caller{
		{"no secret", "", "", 401},
		{"wrong secret", "ccm_" + strings.Repeat("x", 43), "", 401}, // well-formed, held by no one
		{"merchant B", e.keyB, e.merchB.ID, 403},
		{"merchant A", e.keyA, e.merchA.ID, 403},
		{"admin", e.admin, "admin", 403},
	}
	for i := range callers {
		c := &callers[i]
		switch {
		case tc.who == public:
			c.want = statusOK
		case tc.who == adminOnly && c.name == "admin":
			c.want = statusOK
		case tc.who == tillOnly && c.name == "merchant A":
			c.want = statusOK
		case tc.who == tillOnly && c.name == "merchant B":
			c.want = tc.other
		}
	}
	for _, c := range callers {
		before := auditCount(t, e.db)
		resp, respBody := e.do(secReq{method: method, path: path, secret: c.secret, body: body, header: tc.header})
		got := resp.StatusCode
		if c.want == statusOK && got/100 != 2 || c.want != statusOK && got != c.want {
			want := "2xx"
			if c.want != statusOK {
				want = http.StatusText(c.want)
			}
			t.Errorf("%s %s as %s: %d %s, want %s", method, path, c.name, got, respBody, want)
			continue
		}
		entries := auditCount(t, e.db) - before
		audited := tc.changes && got/100 == 2
		if audited && entries < 1 || !audited && entries != 0 {
			t.Errorf("%s %s as %s (%d): %d new audit entries, want them only for a change", method, path, c.name, got, entries)
		}
		if audited {
			l, _, err := e.db.Audit(ctx, storage.AuditFilter{}, storage.Page{Limit: 1})
			if err != nil || len(l) != 1 || l[0].Actor != c.actor {
				t.Errorf("%s %s as %s: audit entry %+v, want by %s", method, path, c.name, l, c.actor)
			}
		}
	}
}

func auditCount(t *testing.T, db *storage.DB) int {
	t.Helper()
	l, _, err := db.Audit(context.Background(), storage.AuditFilter{}, storage.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

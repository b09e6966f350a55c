package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/wallet/wallettest"
	"github.com/citycard/citycard/storage"
)

// authzWalletKeys are the matrix's wallet keys: the test CA's pass certificate and a Google
// service account, made once (a 2048-bit RSA key each) for every route's server.
var authzWalletKeys struct {
	once   sync.Once
	chain  wallettest.Chain
	google []byte
}

// authzWallet configures both wallets in the matrix's server. Nothing is delivered (the
// worker does not run in tests), so the APNs and Wallet API addresses are never called.
func authzWallet(t testing.TB) testOption {
	k := &authzWalletKeys
	k.once.Do(func() {
		k.chain = wallettest.NewChain(t, time.Now().AddDate(1, 0, 0))
		k.google, _ = wallettest.ServiceAccount(t, "http://127.0.0.1:9/token")
	})
	wc := walletConfigFor(t, k.chain, k.google)
	return withConfig(func(c *Config) { c.Wallet = wc })
}

// Who may call a route.
const (
	public      = "public"   // anyone, with or without a secret
	adminOnly   = "admin"    // the network admin and the town offices; 401 without a valid secret, 403 for a merchant key
	networkOnly = "network"  // the network admin only; 403 for an office token or a merchant key
	tillOnly    = "merchant" // a merchant key; 401 without a valid secret, 403 for the admin or an office token
	salesOnly   = "sales"    // a sales point's secret; 401 without a valid secret, 403 for every other role
	// walletApp is Apple's wallet app calling the PassKit web service about a pass: only that
	// pass's own authentication token (Authorization: ApplePass <token>, derived from the
	// card's token, server/wallet.go) is let in; no role's secret, none sent as a pass token,
	// and no other card's pass token: 401. The matrix's service has both wallets configured
	// (authzWallet), a pass for {card} and one for {othercard}, each with a device registered.
	walletApp = "wallet"
	// metricsOnly is the metrics token (CITYCARD_METRICS_TOKEN, set for the test): every other
	// secret, the admin's included, is 401.
	metricsOnly = "metrics"
)

// What merchant B gets on a till route called with merchant A's resources.
const (
	statusOK = 0   // any 2xx: the route is about B's own things
	notFound = 404 // A's offer or redemption does not exist for B
)

// authzCase is what one route expects. path and body may hold {card}, {token}, {merchant},
// {offer} and {redemption}: merchant A's resources in town koper and the card koper issued
// ({redemption} is a fresh one for each caller); {caller} and {month} differ for each caller,
// so that a create or a close by one does not collide with another's.
type authzCase struct {
	who     string
	path    string // defaults to the route's path
	body    string
	header  map[string]string
	other   int    // for till routes: merchant B's status on the request (statusOK or notFound)
	town    int    // the other town's (ptuj's) office or merchant on koper's resources: statusOK or notFound
	changes bool   // a 2xx changes data, so it must be in the audit log (once per thing changed)
	actor   string // who the audit log names for a public change, whoever calls ("" for the caller)
	// idleInTown: the other town's office gets a 2xx that changes nothing (a bulk route
	// that finds none of its town's rows among koper's).
	idleInTown bool
	// names: every 2xx answer names this card ("{card}") and no other card ({othercard}, which
	// has a pass and a registered device of its own): neither its id, number, token nor pass
	// token. A pass (zip) is read by its text files, a save link by its JWT's claims.
	names string
	// elsewhere: the same request on other paths, with the status (and error code) every
	// caller gets there, whatever its secret: a token no card has, another pass type, …
	elsewhere []authzElse
}

// authzElse is a path (with the placeholders of authzCase.path) and what every caller gets
// there.
type authzElse struct {
	path string
	want int // statusOK: any 2xx
	code string
}

// authzSerialsElsewhere: the list of dev1's passes since the tag of the last change is empty,
// as is an unknown device's; another pass type is 404, a tag not this service's 400.
var authzSerialsElsewhere = []authzElse{{"/wallet/v1/devices/dev1/registrations/{passType}?passesUpdatedSince={passtag}", 204, ""},
	{"/wallet/v1/devices/dev-unknown/registrations/{passType}", 204, ""}, {"/wallet/v1/devices/dev1/registrations/pass.org.other", 404, "not_found"},
	{"/wallet/v1/devices/dev1/registrations/{passType}?passesUpdatedSince=yesterday", 400, "invalid_request"}}

// authzRoutes is every route of the app and who may call it. A route registered in routes.go
// without an entry here fails TestAuthorizationMatrix: decide who may call it, then add it.
var authzRoutes = map[string]authzCase{
	"GET /healthz":                         {who: public},
	"GET /readyz":                          {who: public},
	"GET /metrics":                         {who: metricsOnly},
	"GET /":                                {who: public},
	"GET /t/:code":                         {who: public, path: "/t/koper"},
	"GET /towns.css":                       {who: public},
	"GET /privacy":                         {who: public, path: "/privacy?town=koper"},
	"GET /t/:code/privacy":                 {who: public, path: "/t/koper/privacy"},
	"GET /api/v1/public/open-data/catalog": {who: public},
	"GET /c/:token":                        {who: public, path: "/c/{token}"},
	"GET /c/:token/qr.png":                 {who: public, path: "/c/{token}/qr.png"},
	"GET /static/*":                        {who: public, path: "/static/card.css"},
	"GET /c/:token/manifest.webmanifest":   {who: public, path: "/c/{token}/manifest.webmanifest"},
	"GET /pos/manifest.webmanifest":        {who: public},
	"GET /sw.js":                           {who: public},
	"GET /pos":                             {who: public},
	"GET /admin":                           {who: public},
	"GET /api/v1/public/cards/:token":      {who: public, path: "/api/v1/public/cards/{token}"},
	// The wallets (server/wallet.go, docs/wallet.md): the pass and the save link are public to
	// whoever holds the card's token; the PassKit web service answers only to the pass's own
	// token, except the list of a device's passes, which Apple's protocol sends without one
	// (the device library identifier is the device's own secret) and the log.
	"GET /api/v1/public/cards/:token/pass.pkpass": {who: public, path: "/api/v1/public/cards/{token}/pass.pkpass", names: "{card}",
		elsewhere: []authzElse{{"/api/v1/public/cards/{nocard}/pass.pkpass", 404, "card_not_found"}, {"/api/v1/public/cards/{forged}/pass.pkpass", 422, "card_invalid"}}},
	"GET /api/v1/public/cards/:token/google-wallet": {who: public, path: "/api/v1/public/cards/{token}/google-wallet?format=json", names: "{card}",
		elsewhere: []authzElse{{"/api/v1/public/cards/{nocard}/google-wallet?format=json", 404, "card_not_found"}, {"/api/v1/public/cards/{forged}/google-wallet", 422, "card_invalid"}}},
	"POST /wallet/v1/devices/:device/registrations/:passType/:serial": {who: walletApp,
		path: "/wallet/v1/devices/dev-new/registrations/{passType}/{card}", body: `{"pushToken":"abc"}`,
		elsewhere: []authzElse{{"/wallet/v1/devices/dev-new/registrations/pass.org.other/{card}", 404, "not_found"}}},
	"DELETE /wallet/v1/devices/:device/registrations/:passType/:serial": {who: walletApp,
		path:      "/wallet/v1/devices/dev1/registrations/{passType}/{card}",
		elsewhere: []authzElse{{"/wallet/v1/devices/dev1/registrations/pass.org.other/{card}", 404, "not_found"}}},
	"GET /wallet/v1/devices/:device/registrations/:passType": {who: public, path: "/wallet/v1/devices/dev1/registrations/{passType}", names: "{card}", elsewhere: authzSerialsElsewhere},
	"GET /wallet/v1/passes/:passType/:serial":                {who: walletApp, path: "/wallet/v1/passes/{passType}/{card}", names: "{card}", elsewhere: []authzElse{{"/wallet/v1/passes/pass.org.other/{card}", 404, "not_found"}}},
	"POST /wallet/v1/log":                                    {who: public, body: `{"logs":["hello"]}`},
	"GET /api/v1/public/offers":                              {who: public},
	"GET /api/v1/public/keys":                                {who: public},
	"GET /api/v1/public/ledger/checkpoints":                  {who: public},
	"GET /api/v1/products":                                   {who: adminOnly},
	"GET /api/v1/cards":                                      {who: adminOnly},
	"GET /api/v1/cards/:id":                                  {town: notFound, who: adminOnly, path: "/api/v1/cards/{card}"},
	"GET /api/v1/cards/:id/qr.png":                           {town: notFound, who: adminOnly, path: "/api/v1/cards/{card}/qr.png"},
	"GET /api/v1/cards/:id/personal-data":                    {town: notFound, who: adminOnly, path: "/api/v1/cards/{card}/personal-data"},
	"GET /api/v1/batches":                                    {who: adminOnly, path: "/api/v1/batches?q=hotel"},
	"GET /api/v1/batches/:id":                                {town: notFound, who: adminOnly, path: "/api/v1/batches/{batch}"},
	"GET /api/v1/batches/:id/sheet.pdf":                      {town: notFound, who: adminOnly, path: "/api/v1/batches/{batch}/sheet.pdf"},
	"GET /api/v1/cards/sheet.pdf":                            {town: notFound, who: adminOnly, path: "/api/v1/cards/sheet.pdf?ids={card}"},
	"GET /api/v1/merchants":                                  {who: adminOnly},
	"GET /api/v1/merchants/:id":                              {town: notFound, who: adminOnly, path: "/api/v1/merchants/{merchant}"},
	"GET /api/v1/offers":                                     {who: adminOnly, path: "/api/v1/offers?merchant={merchant}"},
	"GET /api/v1/offers/:id":                                 {town: notFound, who: adminOnly, path: "/api/v1/offers/{offer}"},
	"GET /api/v1/redemptions":                                {who: adminOnly},
	"GET /api/v1/reports/monthly":                            {who: adminOnly, path: "/api/v1/reports/monthly?month=2026-10"},
	"GET /api/v1/reports/network":                            {who: networkOnly, path: "/api/v1/reports/network?month=2026-10"},
	"GET /api/v1/audit":                                      {who: adminOnly},
	"GET /api/v1/reports/statements":                         {who: adminOnly, path: "/api/v1/reports/statements?month=2026-10"},
	"GET /api/v1/ledger/verify":                              {who: adminOnly},
	"GET /api/v1/reports/open-data":                          {who: public, path: "/api/v1/reports/open-data?month=2026-09&town=koper"},
	"GET /api/v1/pos/statements":                             {who: tillOnly, other: statusOK, path: "/api/v1/pos/statements?month=2026-10"},
	"POST /api/v1/reports/monthly/:month/close":              {who: adminOnly, changes: true, path: "/api/v1/reports/monthly/{month}/close"},
	"GET /api/v1/pos/me":                                     {who: tillOnly, other: statusOK},
	"GET /api/v1/pos/redemptions":                            {who: tillOnly, other: statusOK},
	"POST /api/v1/products":                                  {who: adminOnly, changes: true, body: `{"code":"koper-24h-{caller}","name":{"en":"Koper 24 h"},"validity_hours":24,"price":"15.00","audience":"tourist"}`},
	"POST /api/v1/cards":                                     {town: notFound, who: adminOnly, changes: true, body: `{"product":"koper-72h"}`},
	"POST /api/v1/cards/batch":                               {town: notFound, who: adminOnly, changes: true, body: `{"product":"koper-72h","count":3}`},
	"POST /api/v1/cards/:id/block":                           {town: notFound, who: adminOnly, changes: true, path: "/api/v1/cards/{card}/block", body: `{"reason":"lost"}`},
	"POST /api/v1/cards/:id/unblock":                         {town: notFound, who: adminOnly, changes: true, path: "/api/v1/cards/{card}/unblock", body: `{}`},
	"POST /api/v1/cards/:id/erase":                           {town: notFound, who: adminOnly, changes: true, path: "/api/v1/cards/{freshcard}/erase", body: `{"reason":"asked"}`},
	"POST /api/v1/merchants":                                 {who: adminOnly, changes: true, body: `{"name":"Muzej","category":"museum"}`},
	"POST /api/v1/merchants/:id/key":                         {town: notFound, who: adminOnly, changes: true, path: "/api/v1/merchants/{merchant}/key"},
	"POST /api/v1/merchants/:id/pairings":                    {town: notFound, who: adminOnly, changes: true, path: "/api/v1/merchants/{merchant}/pairings"},
	"POST /api/v1/pos/pair":                                  {who: public, changes: true, actor: "pairing", body: `{"code":"{pairing}"}`},
	"POST /api/v1/merchants/:id/offers":                      {town: notFound, who: adminOnly, changes: true, path: "/api/v1/merchants/{merchant}/offers", body: `{"title":{"en":"Free coffee"},"kind":"free","limit":"once"}`},
	"POST /api/v1/redemptions/:id/void":                      {town: notFound, who: adminOnly, changes: true, path: "/api/v1/redemptions/{redemption}/void", body: `{"reason":"till error"}`},
	"PATCH /api/v1/merchants/:id":                            {town: notFound, who: adminOnly, changes: true, path: "/api/v1/merchants/{merchant}", body: `{"address":"Titov trg 1, Koper"}`},
	"PATCH /api/v1/offers/:id":                               {town: notFound, who: adminOnly, changes: true, path: "/api/v1/offers/{offer}", body: `{"active":false}`},
	"POST /api/v1/pos/check":                                 {who: tillOnly, other: statusOK, body: `{"card":"{token}"}`},
	"POST /api/v1/pos/quote":                                 {town: notFound, who: tillOnly, other: notFound, body: `{"card":"{token}","offer_id":"{offer}","amount":"20.00"}`},
	"POST /api/v1/pos/redemptions":                           {town: notFound, who: tillOnly, other: notFound, changes: true, body: `{"card":"{token}","offer_id":"{offer}","amount":"20.00"}`, header: map[string]string{"Idempotency-Key": "authz-1"}},
	"POST /api/v1/redemptions/:id/accept":                    {town: notFound, who: adminOnly, changes: true, path: "/api/v1/redemptions/{conflict}/accept", body: `{"note":"ok"}`},
	"POST /api/v1/redemptions/:id/reject":                    {town: notFound, who: adminOnly, changes: true, path: "/api/v1/redemptions/{conflict}/reject", body: `{"note":"no"}`},
	"GET /api/v1/redemptions/conflicts/groups":               {town: statusOK, who: adminOnly},
	"POST /api/v1/redemptions/conflicts/decide":              {town: statusOK, who: adminOnly, changes: true, idleInTown: true, body: `{"decision":"rejected","note":"no","ids":["{conflict}"]}`},
	"GET /api/v1/pos/offline-pack":                           {who: tillOnly, other: statusOK, town: statusOK},
	"POST /api/v1/pos/redemptions/sync":                      {who: tillOnly, other: statusOK, town: statusOK, body: `{"items":[{"idempotency_key":"authz-sync","card":"{token}","offer_id":"{offer}","amount":"twenty"}]}`}, // an item refused: 200, nothing changed (recording items: TestOfflineSync)
	"POST /api/v1/pos/redemptions/:id/void":                  {town: notFound, who: tillOnly, other: notFound, changes: true, path: "/api/v1/pos/redemptions/{redemption}/void", body: `{"reason":"wrong item"}`},
	"GET /api/v1/public/towns":                               {who: public},
	"POST /api/v1/towns":                                     {who: networkOnly, changes: true, body: `{"code":"kranj-{caller}","name":{"sl":"Kranj"},"timezone":"Europe/Ljubljana","languages":["sl"]}`},
	"GET /api/v1/me":                                         {who: adminOnly},
	"GET /api/v1/towns":                                      {who: adminOnly},
	"GET /api/v1/towns/:code":                                {town: notFound, who: adminOnly, path: "/api/v1/towns/koper"},
	"PATCH /api/v1/towns/:code":                              {who: networkOnly, changes: true, path: "/api/v1/towns/koper", body: `{"public_url":"https://koper.example"}`},
	"POST /api/v1/towns/:code/tokens":                        {who: networkOnly, changes: true, path: "/api/v1/towns/koper/tokens", body: `{"label":"Koper office"}`},
	"GET /api/v1/towns/:code/tokens":                         {who: networkOnly, path: "/api/v1/towns/koper/tokens"},
	"DELETE /api/v1/towns/:code/tokens/:id":                  {who: networkOnly, changes: true, path: "/api/v1/towns/koper/tokens/{officetoken}"},
	// Sales points (server/sales.go): the office manages them; each issues and cancels its own
	// cards ("other" is koper's second sales point, "town" ptuj's, which may not sell koper-72h).
	"GET /sell":                               {who: public},
	"POST /api/v1/sales-points":               {town: notFound, who: adminOnly, changes: true, body: `{"name":"Hotel {caller}","products":["koper-72h"],"commission":"10"}`},
	"GET /api/v1/sales-points":                {who: adminOnly},
	"GET /api/v1/sales-points/:id":            {town: notFound, who: adminOnly, path: "/api/v1/sales-points/{salespoint}"},
	"PATCH /api/v1/sales-points/:id":          {town: notFound, who: adminOnly, changes: true, path: "/api/v1/sales-points/{salespoint}", body: `{"commission":"12.5"}`},
	"POST /api/v1/sales-points/:id/token":     {town: notFound, who: adminOnly, changes: true, path: "/api/v1/sales-points/{salespoint}/token"},
	"GET /api/v1/reports/sales-statements":    {who: adminOnly, path: "/api/v1/reports/sales-statements?month=2026-10"},
	"GET /api/v1/sales/me":                    {who: salesOnly, other: statusOK, town: statusOK},
	"POST /api/v1/sales/cards":                {who: salesOnly, other: statusOK, town: 422, changes: true, body: `{"product":"koper-72h","holder":"Giulia Rossi","lang":"it"}`},
	"GET /api/v1/sales/cards":                 {who: salesOnly, other: statusOK, town: statusOK},
	"POST /api/v1/sales/cards/:id/cancel":     {who: salesOnly, other: notFound, town: notFound, changes: true, path: "/api/v1/sales/cards/{salescard}/cancel", body: `{"reason":"mistake"}`},
	"GET /api/v1/sales/cards/:id/receipt.pdf": {who: salesOnly, other: notFound, town: notFound, path: "/api/v1/sales/cards/{salescard}/receipt.pdf"},
}

// TestAuthorizationMatrix calls every route registered in the app as no one, with a wrong
// secret, as merchants A and B of koper, as the merchant of ptuj, as the offices of ptuj and
// koper and as the network admin (acting in koper), each route on a fresh database of two
// towns, and checks the status: 401 without a valid secret, 403 for the wrong role, 404 for
// another merchant's or another town's resources, 2xx otherwise; and that no answer to ptuj's
// office or merchant holds an identifier of koper's (lists never show another town's rows).
// Every 2xx that changes data leaves one audit entry naming the caller; nothing else does.
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
	e := newTownsEnvWith(t, authzWallet(t))
	ctx := context.Background()
	ref, err := e.s.keys.ParseInput(e.card.Token, false)
	if err != nil {
		t.Fatal(err)
	}
	// The wallets: {card} and {othercard} each have a pass (Apple's and Google's), and a device
	// registered for it, dev1 and dev2.
	others, err := e.db.CreateCards(ctx, "koper", e.s.keys, e.card.Product, 1, "Bruno Kos", "en")
	if err != nil {
		t.Fatal(err)
	}
	other := others[0]
	var passTag time.Time
	for i, cd := range []card.Card{e.card, other} {
		wp, err := e.db.WalletPassFor(ctx, cd.ID, walletAuthHash(walletAuthToken(cd)), true)
		if err != nil {
			t.Fatal(err)
		}
		dev := "dev" + strconv.Itoa(i+1)
		if _, err := e.db.RegisterWalletDevice(ctx, dev, cd.ID, "push-"+dev); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			passTag = wp.Tag
		}
	}
	nocard, err := e.s.keys.Sign(unusedNumber(t, &testServer{db: e.db})) // signed, names no card
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte(e.card.Token) // one character changed: the signature fails
	if forged[len(forged)/2] == 'A' {
		forged[len(forged)/2] = 'B'
	} else {
		forged[len(forged)/2] = 'A'
	}
	walletFill := strings.NewReplacer("{card}", e.card.ID, "{token}", e.card.Token, "{othercard}", other.ID,
		"{passType}", wallettest.PassTypeID, "{passtag}", strconv.FormatInt(passTag.UnixMilli(), 10),
		"{nocard}", nocard, "{forged}", string(forged))
	otherCard := []string{other.ID, other.Number, other.Token, walletAuthToken(other)}
	tok, err := e.db.CreateOfficeToken(ctx, "koper", "setup", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	// Koper's September is closed, so its open data is published (an open month's is not).
	if _, err := e.db.CloseMonth(ctx, "koper", merchant.Month{Year: 2026, Month: time.September}, encodeReport); err != nil {
		t.Fatal(err)
	}
	batch := card.Batch{Town: "koper", Product: e.card.Product, Count: 2, Name: "Hotel Histria"}
	if _, err := e.db.CreateBatch(ctx, e.s.keys, &batch); err != nil {
		t.Fatal(err)
	}
	// Sales points: A and B of koper and one of ptuj call; C is the one the office manages.
	salesPoint := func(town, name, product string) (merchant.SalesPoint, string) {
		secret := newSecret(salesPointPrefix)
		sum := sha256.Sum256([]byte(secret))
		p := merchant.SalesPoint{Name: name, Products: []string{product}, CommissionBP: 1000}
		if err := e.db.CreateSalesPoint(ctx, town, &p, sum[:]); err != nil {
			t.Fatal(err)
		}
		return p, secret
	}
	spA, secretA := salesPoint("koper", "Hotel A", "koper-72h")
	spB, secretB := salesPoint("koper", "Hotel B", "koper-72h")
	spP, secretP := salesPoint("ptuj", "Hotel P", "ptuj-24h")
	spC, _ := salesPoint("koper", "Hotel C", "koper-72h")
	sell := func() card.Card {
		sum := sha256.Sum256([]byte(secretA))
		c, err := e.db.IssueSale(ctx, e.s.keys, sum[:], "koper-72h", "", "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	salesCard := sell()
	// Koper's identifiers: nothing the other town's office or merchant is answered may hold one.
	koperIDs := []string{e.merchA.ID, e.merchB.ID, e.offerA.ID, e.onceA.ID, e.offerB.ID, e.card.ID, e.officeKID, tok.ID, batch.ID,
		spA.ID, spB.ID, spC.ID, salesCard.ID, other.ID}

	type caller struct {
		name, secret, actor string
		header              map[string]string
		want                int
		otherTown           bool // ptuj's: must see none of koper's rows
	}
	callers := []caller{
		{name: "no secret", want: 401},
		{name: "wrong secret", secret: "ccm_" + strings.Repeat("x", 43), want: 401}, // well-formed, held by no one
		{name: "merchant B", secret: e.keyB, actor: e.merchB.ID, want: 403},
		{name: "merchant A", secret: e.keyA, actor: e.merchA.ID, want: 403},
		{name: "merchant of ptuj", secret: e.keyP, actor: e.merchP.ID, want: 403, otherTown: true},
		{name: "sales point A", secret: secretA, actor: spA.ID, want: 403},
		{name: "sales point B", secret: secretB, actor: spB.ID, want: 403},
		{name: "sales point of ptuj", secret: secretP, actor: spP.ID, want: 403, otherTown: true},
		{name: "office of ptuj", secret: e.officeP, actor: e.officePID, want: 403, otherTown: true},
		{name: "office of koper", secret: e.officeK, actor: e.officeKID, want: 403},
		{name: "network admin", secret: e.admin, actor: "admin", header: e.koper, want: 403},
	}
	for i := range callers {
		c := &callers[i]
		office := strings.HasPrefix(c.name, "office")
		switch {
		case tc.who == walletApp:
			c.want = 401 // no role's secret is a pass's token
		case tc.who == public:
			c.want = statusOK
		case tc.who == networkOnly && c.name == "network admin":
			c.want = statusOK
		case tc.who == adminOnly && (c.name == "network admin" || c.name == "office of koper"):
			c.want = statusOK
		case tc.who == adminOnly && office:
			c.want = tc.town
		case tc.who == tillOnly && c.name == "merchant A":
			c.want = statusOK
		case tc.who == tillOnly && c.name == "merchant B":
			c.want = tc.other
		case tc.who == tillOnly && c.name == "merchant of ptuj":
			c.want = tc.town
		case tc.who == salesOnly && c.name == "sales point A":
			c.want = statusOK
		case tc.who == salesOnly && c.name == "sales point B":
			c.want = tc.other
		case tc.who == salesOnly && c.name == "sales point of ptuj":
			c.want = tc.town
		case tc.who == metricsOnly:
			c.want = 401
		}
	}
	if tc.who == walletApp || tc.names != "" {
		// The wallet app with the card's pass token, another card's, a wrong one, and the
		// roles' secrets sent as pass tokens: only the card's own opens the PassKit service.
		deny := statusOK
		if tc.who == walletApp {
			deny = 401
		}
		applePass := func(tok string) map[string]string { return map[string]string{"Authorization": "ApplePass " + tok} }
		callers = append(callers,
			caller{name: "the card's pass", header: applePass(walletAuthToken(e.card)), want: statusOK},
			caller{name: "another card's pass", header: applePass(walletAuthToken(other)), want: deny},
			caller{name: "a wrong pass token", header: applePass(strings.Repeat("0", 40)), want: deny},
			caller{name: "a merchant key as a pass token", header: applePass(e.keyA), want: deny},
			caller{name: "an office token as a pass token", header: applePass(e.officeK), want: deny},
			caller{name: "the admin token as a pass token", header: applePass(e.admin), want: deny})
	}
	if tc.who == metricsOnly {
		sum := sha256.Sum256([]byte(testMetricsToken))
		e.s.metricsTokenHash = sum[:]
		callers = append(callers, caller{name: "metrics token", secret: testMetricsToken, want: statusOK})
	}
	redeem := func(key string) merchant.Redemption {
		red, _, err := e.db.Redeem(ctx, merchant.RedeemRequest{MerchantID: e.merchA.ID, CardInput: e.card.Token,
			OfferID: e.offerA.ID, Amount: 1000, IdempotencyKey: key}, ref)
		if err != nil {
			t.Fatal(err)
		}
		return red
	}
	red := redeem("setup")
	// conflict records an offline sale of the used once offer: a conflict for the office.
	conflict := func(key string) merchant.Redemption {
		at := e.db.Now().Add(-time.Hour)
		red, _, err := e.db.Redeem(ctx, merchant.RedeemRequest{MerchantID: e.merchA.ID, CardInput: e.card.Token,
			OfferID: e.onceA.ID, Amount: 1000, IdempotencyKey: key, OccurredAt: &at}, ref)
		if err != nil {
			t.Fatal(err)
		}
		return red
	}
	var conf merchant.Redemption
	if strings.Contains(tc.path+tc.body, "{conflict}") {
		conflict("once-setup") // takes the once offer: the next ones are conflicts
	}
	for i, c := range callers {
		if strings.Contains(tc.path+tc.body, "{redemption}") {
			red = redeem("setup-" + strconv.Itoa(i)) // a void voids it: each caller gets its own
		}
		if strings.Contains(tc.path+tc.body, "{conflict}") {
			conf = conflict("conflict-" + strconv.Itoa(i)) // a decision is final: each caller gets its own
		}
		fresh := e.card.ID
		if strings.Contains(tc.path, "{freshcard}") { // an erasure is final: a fresh card per caller
			kr, err := e.db.Keyring(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			cs, err := e.db.CreateCards(ctx, e.card.Town, kr, e.card.Product, 1, "Holder "+strconv.Itoa(i), "")
			if err != nil {
				t.Fatal(err)
			}
			fresh = cs[0].ID
			koperIDs = append(koperIDs, fresh)
		}
		if strings.Contains(tc.path, "{salescard}") && strings.Contains(tc.path, "cancel") {
			salesCard = sell() // a cancel is final: each caller gets its own
		}
		pairing := ""
		if strings.Contains(tc.body, "{pairing}") { // a pairing code works once: a fresh one per caller
			pairing = mustPairingCode(t, e.db, e.merchA.ID)
		}
		fill := strings.NewReplacer("{batch}", batch.ID, "{officetoken}", tok.ID, "{card}", e.card.ID, "{token}", e.card.Token, "{merchant}", e.merchA.ID,
			"{offer}", e.offerA.ID, "{redemption}", red.ID, "{conflict}", conf.ID, "{caller}", "c"+strconv.Itoa(i), "{month}", fmt.Sprintf("2020-%02d", i+1),
			"{pairing}", pairing, "{freshcard}", fresh, "{salespoint}", spC.ID, "{salescard}", salesCard.ID)
		path := route
		if tc.path != "" {
			path = tc.path
		}
		path, body := walletFill.Replace(fill.Replace(path)), fill.Replace(tc.body)
		before := auditCount(t, e.db)
		resp, respBody := e.do(secReq{method: method, path: path, secret: c.secret, body: body, header: headers(tc.header, c.header)})
		got := resp.StatusCode
		if c.want == statusOK && got/100 != 2 || c.want != statusOK && got != c.want {
			want := "2xx"
			if c.want != statusOK {
				want = http.StatusText(c.want)
			}
			t.Errorf("%s %s as %s: %d %.300s, want %s", method, path, c.name, got, authzReadable(respBody), want)
			continue
		}
		if tc.names != "" && got/100 == 2 && method != http.MethodHead {
			text := authzReadable(respBody)
			if want := walletFill.Replace(tc.names); !strings.Contains(text, want) {
				t.Errorf("%s %s as %s: the answer does not name %s: %s", method, path, c.name, want, text)
			}
			for _, s := range otherCard {
				if strings.Contains(text, s) {
					t.Errorf("%s %s as %s: the answer names another card (%s): %s", method, path, c.name, s, text)
				}
			}
		}
		if c.otherTown && tc.who != public && got/100 == 2 {
			for _, id := range append(koperIDs, red.ID) {
				if strings.Contains(string(respBody), id) {
					t.Errorf("%s %s as %s: the answer holds koper's %s: %s", method, path, c.name, id, respBody)
				}
			}
		}
		entries := auditCount(t, e.db) - before
		audited := tc.changes && got/100 == 2 && !(tc.idleInTown && c.otherTown)
		if audited && entries < 1 || !audited && entries != 0 {
			t.Errorf("%s %s as %s (%d): %d new audit entries, want them only for a change", method, path, c.name, got, entries)
		}
		if audited {
			actor := c.actor
			if tc.actor != "" {
				actor = tc.actor
			}
			l, _, err := e.db.Audit(ctx, storage.AuditFilter{}, storage.Page{Limit: 1})
			if err != nil || len(l) != 1 || l[0].Actor != actor {
				t.Errorf("%s %s as %s: audit entry %+v, want by %s", method, path, c.name, l, actor)
			}
		}
	}
	for _, el := range tc.elsewhere {
		path, body := walletFill.Replace(el.path), walletFill.Replace(tc.body)
		for _, c := range callers {
			before := auditCount(t, e.db)
			resp, respBody := e.do(secReq{method: method, path: path, secret: c.secret, body: body, header: headers(tc.header, c.header)})
			got := resp.StatusCode
			if el.want == statusOK && got/100 != 2 || el.want != statusOK && got != el.want ||
				el.code != "" && method != http.MethodHead && errorCodeOf(respBody) != el.code {
				t.Errorf("%s %s as %s: %d %.300s, want %d %s", method, path, c.name, got, authzReadable(respBody), el.want, el.code)
			}
			if n := auditCount(t, e.db) - before; n != 0 {
				t.Errorf("%s %s as %s (%d): %d new audit entries, want none", method, path, c.name, got, n)
			}
		}
	}
}

// headers merges header sets, the later ones winning.
func headers(sets ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, h := range sets {
		for k, v := range h {
			out[k] = v
		}
	}
	return out
}

// authzReadable is the text of an answer for the matrix's names check: a pass (zip) by its
// text files, a save link ({"url"}) with its JWT's claims decoded.
func authzReadable(body []byte) string {
	text := string(body)
	if z, err := zip.NewReader(bytes.NewReader(body), int64(len(body))); err == nil {
		text = "a zip:"
		for _, f := range z.File {
			if !strings.HasSuffix(f.Name, ".json") && !strings.HasSuffix(f.Name, ".strings") {
				continue
			}
			r, err := f.Open()
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(r)
			r.Close()
			text += "\n" + string(b)
		}
	}
	var link struct{ URL string }
	if json.Unmarshal(body, &link) == nil && link.URL != "" {
		if parts := strings.Split(link.URL[strings.LastIndex(link.URL, "/")+1:], "."); len(parts) == 3 {
			claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
			text += "\n" + string(claims)
		}
	}
	return text
}

func auditCount(t *testing.T, db *storage.DB) int {
	t.Helper()
	l, _, err := db.Audit(context.Background(), storage.AuditFilter{}, storage.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// TestProductTownsMatrix: towns cannot spend each other's money (issue 17, observation 4). An
// office creates products of its own town only (another town in towns: 403 forbidden, as for
// the network admin acting in a town); a product for several towns is a network product. An
// office's offers and cards may name its own products and the network products accepting it.
func TestProductTownsMatrix(t *testing.T) {
	e := newTownsEnv(t)
	product := func(code, towns string) string {
		b := `{"code":"` + code + `","name":{"en":"P"},"validity_hours":24,"price":"10.00","audience":"tourist"`
		if towns != "" {
			b += `,"towns":` + towns
		}
		return b + `}`
	}
	offer := func(products string) string {
		return `{"title":{"en":"10%"},"kind":"percent","value":"10","limit":"unlimited","products":` + products + `}`
	}
	// Network products: one accepted in koper and ptuj, one in ptuj only.
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, body: product("net-kp", `["koper","ptuj"]`)}, nil)
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, body: product("net-p", `["ptuj"]`)}, nil)
	offers := "/api/v1/merchants/" + e.merchA.ID + "/offers"
	for _, tc := range []struct {
		name       string
		r          secReq
		wantStatus int
		wantCode   string
	}{
		{"office: product for another town", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("k-ptuj", `["ptuj"]`)}, 403, "forbidden"},
		{"office: product for its town and another", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("k-both", `["koper","ptuj"]`)}, 403, "forbidden"},
		{"network admin in a town: product for another town", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, header: e.koper, body: product("k-ptuj", `["ptuj"]`)}, 403, "forbidden"},
		{"office: product for its own town", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("k-own", `["koper"]`)}, 201, ""},
		{"office: product, towns omitted", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("k-own2", "")}, 201, ""},
		{"office: offer naming a network product not accepting it", secReq{method: "POST", path: offers, secret: e.officeK, body: offer(`["net-p"]`)}, 400, "invalid_request"},
		{"office: offer naming another town's product", secReq{method: "POST", path: offers, secret: e.officeK, body: offer(`["ptuj-24h"]`)}, 400, "invalid_request"},
		{"office: offer naming its own and a network product", secReq{method: "POST", path: offers, secret: e.officeK, body: offer(`["k-own","net-kp"]`)}, 201, ""},
		{"office: offer changed to another town's product", secReq{method: "PATCH", path: "/api/v1/offers/" + e.offerA.ID, secret: e.officeK, body: `{"products":["ptuj-24h"]}`}, 400, "invalid_request"},
		{"office: card of a network product not accepting it", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeK, body: `{"product":"net-p"}`}, 404, "product_not_found"},
		{"office: card of another town's product", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeK, body: `{"product":"ptuj-24h"}`}, 404, "product_not_found"},
		{"office: card of a network product accepting it", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeK, body: `{"product":"net-kp"}`}, 201, ""},
		{"other office: card of koper's product", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeP, body: `{"product":"k-own"}`}, 404, "product_not_found"},
		// Product codes are unique per town: among a town's own products and the network
		// products accepting it.
		{"office: a code its town has", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("k-own", "")}, 409, "already_exists"},
		{"office: a code of a network product accepting it", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("net-kp", "")}, 409, "already_exists"},
		{"office: a code of a network product not accepting it", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("net-p", "")}, 201, ""},
		{"other office: a code only another town has", secReq{method: "POST", path: "/api/v1/products", secret: e.officeP, body: product("k-own", "")}, 201, ""},
		{"other office: card of its own product of that code", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeP, body: `{"product":"k-own"}`}, 201, ""},
		{"network admin in a town: a code the town has", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, header: e.koper, body: product("k-own2", "")}, 409, "already_exists"},
		{"network admin: network product, a code of a town it accepts", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, body: product("k-own2", `["koper","ptuj"]`)}, 409, "already_exists"},
		{"network admin: network product, a code of a network product in a town it accepts", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, body: product("net-p", `["ptuj"]`)}, 409, "already_exists"},
		{"network admin: network product, a code only towns it does not accept have", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, body: product("k-own2", `["ptuj"]`)}, 201, ""},
		{"other office: a code of a network product now accepting it", secReq{method: "POST", path: "/api/v1/products", secret: e.officeP, body: product("k-own2", "")}, 409, "already_exists"},
	} {
		t.Run(tc.name, func(t *testing.T) { e.call(t, tc.wantStatus, tc.wantCode, tc.r, nil) })
	}
}

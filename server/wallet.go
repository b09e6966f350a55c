package main

// Wallet passes (docs/wallet.md): the card in the phone's wallet.
//
//	GET    /api/v1/public/cards/:token/pass.pkpass                      handleWalletApplePass
//	GET    /api/v1/public/cards/:token/google-wallet                    handleWalletGoogle
//	POST   /wallet/v1/devices/:device/registrations/:passType/:serial   handleWalletRegister
//	DELETE /wallet/v1/devices/:device/registrations/:passType/:serial   handleWalletUnregister
//	GET    /wallet/v1/devices/:device/registrations/:passType           handleWalletSerials
//	GET    /wallet/v1/passes/:passType/:serial                          handleWalletLatestPass
//	POST   /wallet/v1/log                                               handleWalletLog
//
// Passes are built on every fetch, never stored signed, so a renewed certificate signs every
// pass fetched after the restart. A card's change reaches the wallets through the outbox
// (storage/wallet.go), which walletLoop delivers.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/wallet"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// walletKit is what the configured wallets give the server; a nil field is a wallet not
// configured.
type walletKit struct {
	apple  *wallet.Apple
	apns   *wallet.APNs
	google *wallet.Google
	// every is the worker's round; backoff the first retry's delay (doubled each attempt,
	// at most walletMaxBackoff).
	every, backoff time.Duration
	worker         string // this instance's name on the rows it claims
}

const walletMaxBackoff = time.Hour

// errWalletNotConfigured is a wallet endpoint of a wallet without configuration (404
// wallet_not_configured, server/error.go).
var errWalletNotConfigured = errors.New("this wallet is not configured on this service")

// loadWallet reads the wallets' certificates and keys (nil fields for a wallet without
// configuration). It refuses an expired certificate and returns a warning for each one that
// expires within 30 days.
func loadWallet(cfg WalletConfig, now time.Time) (*walletKit, []string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	k := &walletKit{every: 2 * time.Second, backoff: 5 * time.Second, worker: fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)}
	var warnings []string
	if cfg.AppleCert != "" {
		p12, err := os.ReadFile(cfg.AppleCert)
		if err != nil {
			return nil, nil, fmt.Errorf("CITYCARD_APPLE_PASS_CERT: %w", err)
		}
		if cfg.AppleWWDR == "" {
			return nil, nil, errors.New("CITYCARD_APPLE_WWDR (Apple's WWDR intermediate certificate, PEM) is needed with CITYCARD_APPLE_PASS_CERT")
		}
		wwdr, err := os.ReadFile(cfg.AppleWWDR)
		if err != nil {
			return nil, nil, fmt.Errorf("CITYCARD_APPLE_WWDR: %w", err)
		}
		if k.apple, err = wallet.LoadApple(p12, cfg.ApplePassword, wwdr, cfg.ApplePassTypeID, cfg.AppleTeamID); err != nil {
			return nil, nil, err
		}
		pass, inter := k.apple.Certificates()
		for _, c := range []struct {
			what string
			cert *x509.Certificate
		}{{"the pass certificate (CITYCARD_APPLE_PASS_CERT)", pass}, {"the WWDR certificate (CITYCARD_APPLE_WWDR)", inter}} {
			warn, err := wallet.CheckCertificate(c.what, c.cert, now)
			if err != nil {
				return nil, nil, err
			}
			if warn != "" {
				warnings = append(warnings, warn)
			}
		}
		base := cfg.APNsURL
		if base == "" {
			base = wallet.DefaultAPNsURL
		}
		k.apns = wallet.NewAPNs(k.apple, base, cfg.apnsTLS)
	}
	if cfg.GoogleKey != "" {
		key, err := os.ReadFile(cfg.GoogleKey)
		if err != nil {
			return nil, nil, fmt.Errorf("CITYCARD_GOOGLE_WALLET_KEY: %w", err)
		}
		if k.google, err = wallet.LoadGoogle(key, cfg.GoogleIssuerID, cfg.GoogleAPI); err != nil {
			return nil, nil, err
		}
	}
	return k, warnings, nil
}

// walletAuthToken is the pass's authentication token: derived from the card's own secret
// token (whoever holds that may fetch the pass, which carries this token anyway), so every
// fetch builds the same pass without the token being stored; only its hash is.
func walletAuthToken(cd card.Card) string {
	m := hmac.New(sha256.New, []byte(cd.Token))
	m.Write([]byte("citycard wallet pass " + cd.ID))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// walletAuthHash is what is stored of an authentication token.
func walletAuthHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// walletPass builds what the card's pass shows, in the town's languages and en/de.
func (s *server) walletPass(ctx context.Context, cd card.Card) (wallet.Pass, error) {
	ref, err := s.keys.ParseInput(cd.Token, false)
	if err != nil {
		return wallet.Pass{}, err
	}
	cd, p, states, err := s.db.CardBenefits(ctx, ref)
	if err != nil {
		return wallet.Pass{}, err
	}
	now := s.db.Now()
	town, _ := s.db.CachedTown(cd.Town)
	status := cd.Status(now)
	origin := town.PublicURL
	if origin == "" {
		origin = s.cfg.PublicURL
	}
	pass := wallet.Pass{
		Serial: cd.ID, Number: card.FormatNumber(cd.Number), QR: s.cardURL(cd.Town, cd.Token), Color: town.TownColor(),
		State: string(status), Voided: status == card.StatusBlocked || status == card.StatusExpired,
		ExpiresAt: cd.ExpiresAt, ValidFrom: cd.ActivatedAt, ActivateBy: cd.ActivateBy, Origin: origin,
		WebService: origin + "/wallet", AuthToken: walletAuthToken(cd), ProductCode: cd.Product,
		Text: map[string]map[string]string{},
	}
	for _, l := range append(append([]string{}, town.Languages...), "en", "de") {
		if !slices.Contains(pass.Langs, l) {
			pass.Langs = append(pass.Langs, l)
		}
	}
	for _, l := range pass.Langs {
		tr := func(key string) string { return i18n.Translate("card", l, key) }
		var list []string
		for _, st := range states {
			title := i18n.OfferTitleFor(st.Offer.Title, []string{l}, town.Languages)
			list = append(list, st.Merchant.Name+": "+title)
		}
		if len(list) == 0 {
			list = []string{tr("none")}
		}
		name, product := town.CardNameIn(l), card.Localize(p.Name, l)
		pass.Text[l] = map[string]string{
			wallet.TextCardName: name, wallet.TextDescription: name + " · " + product,
			wallet.TextProduct: tr("wallet.product"), wallet.TextProductName: product, wallet.TextNumber: tr("number"),
			wallet.TextValidUntil: tr("wallet.valid_until"), wallet.TextActivateBy: tr("activate_by"),
			wallet.TextStatus: tr("wallet.status"), wallet.TextStatusValue: tr("status." + string(status)),
			wallet.TextBenefits: tr("benefits"), wallet.TextBenefitList: strings.Join(list, "\n"),
		}
	}
	return pass, nil
}

// walletCard resolves a public token to its card, recording its pass (google: a Google
// Wallet link is made).
func (s *server) walletCard(c *fiber.Ctx, google bool) (card.Card, wallet.Pass, storage.WalletPass, error) {
	ref, err := s.keys.ParseInput(c.Params("token"), false)
	if err != nil {
		return card.Card{}, wallet.Pass{}, storage.WalletPass{}, err
	}
	cd, err := s.db.CardByNumber(c.UserContext(), ref.Number)
	if err != nil {
		return cd, wallet.Pass{}, storage.WalletPass{}, err
	}
	pass, err := s.walletPass(c.UserContext(), cd)
	if err != nil {
		return cd, pass, storage.WalletPass{}, err
	}
	wp, err := s.db.WalletPassFor(c.UserContext(), cd.ID, walletAuthHash(pass.AuthToken), google)
	return cd, pass, wp, err
}

// handleWalletApplePass: GET /api/v1/public/cards/:token/pass.pkpass, the card's signed
// Apple Wallet pass (404 wallet_not_configured without a certificate).
func (s *server) handleWalletApplePass(c *fiber.Ctx) error {
	if s.wallet == nil || s.wallet.apple == nil {
		return errWalletNotConfigured
	}
	_, pass, wp, err := s.walletCard(c, false)
	if err != nil {
		return err
	}
	return s.sendApplePass(c, pass, wp)
}

func (s *server) sendApplePass(c *fiber.Ctx, pass wallet.Pass, wp storage.WalletPass) error {
	b, err := s.wallet.apple.Build(pass)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderLastModified, wp.Tag.UTC().Format(http1123))
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="card.pkpass"`)
	c.Set(fiber.HeaderContentType, "application/vnd.apple.pkpass")
	return c.Send(b)
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// handleWalletGoogle: GET /api/v1/public/cards/:token/google-wallet, 302 to the card's
// "save to Google Wallet" link (?format=json: 200 {"url"}).
func (s *server) handleWalletGoogle(c *fiber.Ctx) error {
	if s.wallet == nil || s.wallet.google == nil {
		return errWalletNotConfigured
	}
	_, pass, _, err := s.walletCard(c, true)
	if err != nil {
		return err
	}
	u, err := s.wallet.google.SaveURL(pass, []string{pass.Origin}, s.db.Now())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	switch c.Query("format") {
	case "json":
		return c.JSON(fiber.Map{"url": u})
	case "":
		return c.Redirect(u, fiber.StatusFound)
	default:
		return badRequest("format must be json or absent")
	}
}

// applePass checks a PassKit web service request naming a pass: the pass type is ours and
// the Authorization header is "ApplePass <the pass's authentication token>" (else
// storage.ErrWalletAuth, 401).
func (s *server) applePass(c *fiber.Ctx) (storage.WalletPass, error) {
	if s.wallet == nil || s.wallet.apple == nil {
		return storage.WalletPass{}, errWalletNotConfigured
	}
	if c.Params("passType") != s.wallet.apple.PassTypeID {
		return storage.WalletPass{}, errorf(fiber.StatusNotFound, "not_found", "no such pass type")
	}
	tok, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "ApplePass ")
	if !ok || tok == "" {
		return storage.WalletPass{}, storage.ErrWalletAuth
	}
	return s.db.WalletPass(c.UserContext(), c.Params("serial"), walletAuthHash(strings.TrimSpace(tok)))
}

// handleWalletRegister: POST /wallet/v1/devices/:device/registrations/:passType/:serial
// {"pushToken"}: 201 registered, 200 already registered, 401 a wrong token.
func (s *server) handleWalletRegister(c *fiber.Ctx) error {
	wp, err := s.applePass(c)
	if err != nil {
		return err
	}
	var body struct {
		PushToken string `json:"pushToken"`
	}
	if err := json.Unmarshal(c.Body(), &body); err != nil || body.PushToken == "" || len(body.PushToken) > 200 {
		return badRequest("the body must be {\"pushToken\":\"…\"}")
	}
	device := c.Params("device")
	if device == "" || len(device) > 200 {
		return badRequest("device library identifier too long")
	}
	created, err := s.db.RegisterWalletDevice(c.UserContext(), device, wp.CardID, body.PushToken)
	if err != nil {
		return err
	}
	if created {
		return c.SendStatus(fiber.StatusCreated)
	}
	return c.SendStatus(fiber.StatusOK)
}

// handleWalletUnregister: DELETE /wallet/v1/devices/:device/registrations/:passType/:serial:
// 200 (also when it was not registered), 401 a wrong token.
func (s *server) handleWalletUnregister(c *fiber.Ctx) error {
	wp, err := s.applePass(c)
	if err != nil {
		return err
	}
	if _, err := s.db.UnregisterWalletDevice(c.UserContext(), c.Params("device"), wp.CardID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusOK)
}

// handleWalletSerials: GET /wallet/v1/devices/:device/registrations/:passType
// [?passesUpdatedSince=tag]: 200 {"serialNumbers","lastUpdated"} of the device's passes
// changed since the tag, 204 none.
func (s *server) handleWalletSerials(c *fiber.Ctx) error {
	if s.wallet == nil || s.wallet.apple == nil {
		return errWalletNotConfigured
	}
	if c.Params("passType") != s.wallet.apple.PassTypeID {
		return errorf(fiber.StatusNotFound, "not_found", "no such pass type")
	}
	var since time.Time
	if v := c.Query("passesUpdatedSince"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest("passesUpdatedSince must be a tag this service gave")
		}
		since = time.UnixMilli(n)
	}
	serials, last, err := s.db.WalletSerialsSince(c.UserContext(), c.Params("device"), since)
	if err != nil {
		return err
	}
	if len(serials) == 0 {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.JSON(fiber.Map{"serialNumbers": serials, "lastUpdated": strconv.FormatInt(last.UnixMilli(), 10)})
}

// handleWalletLatestPass: GET /wallet/v1/passes/:passType/:serial, the pass as it is now
// (If-Modified-Since: 304 when unchanged), 401 a wrong token.
func (s *server) handleWalletLatestPass(c *fiber.Ctx) error {
	wp, err := s.applePass(c)
	if err != nil {
		return err
	}
	if ims, err := time.Parse(http1123, c.Get(fiber.HeaderIfModifiedSince)); err == nil && !wp.Tag.Truncate(time.Second).After(ims) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	cd, err := s.db.Card(c.UserContext(), "", wp.CardID)
	if err != nil {
		return err
	}
	pass, err := s.walletPass(c.UserContext(), cd)
	if err != nil {
		return err
	}
	return s.sendApplePass(c, pass, wp)
}

// handleWalletLog: POST /wallet/v1/log {"logs":[…]}: the wallet app's error messages, logged.
func (s *server) handleWalletLog(c *fiber.Ctx) error {
	var body struct {
		Logs []string `json:"logs"`
	}
	if err := json.Unmarshal(c.Body(), &body); err != nil {
		return badRequest("the body must be {\"logs\":[…]}")
	}
	for i, l := range body.Logs {
		if i == 20 {
			break // a flood is not read
		}
		s.log.Warn("wallet app", "message", truncate(l, 500))
	}
	return c.SendStatus(fiber.StatusOK)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// walletLoop is the wallets' worker, until ctx is done: each round it finds the passes whose
// card changed by itself (activated, expired), then delivers what the outbox holds (every
// instance runs one; each row goes to one of them).
func (s *server) walletLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.wallet.every)
	defer t.Stop()
	for {
		s.walletRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// walletRound is one round of the worker; it returns how many deliveries it made.
func (s *server) walletRound(ctx context.Context) int {
	if _, err := s.db.WalletSweep(ctx, 1000); err != nil && ctx.Err() == nil {
		s.log.Error("wallet sweep", "err", err)
	}
	n := 0
	for {
		ds, err := s.db.ClaimWalletDeliveries(ctx, s.wallet.worker, 50, 2*time.Minute)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("wallet outbox", "err", err)
			}
			return n
		}
		if len(ds) == 0 {
			return n
		}
		for _, d := range ds {
			err := s.deliverWallet(ctx, d)
			if errors.Is(err, wallet.ErrGone) && d.Kind == storage.WalletAPNs {
				// Apple says the device dropped the pass: push it no more.
				if _, err := s.db.ForgetWalletPushToken(ctx, d.CardID, d.Target); err != nil {
					s.log.Error("wallet outbox", "err", err)
				}
			}
			if err == nil || errors.Is(err, wallet.ErrGone) {
				if _, err := s.db.WalletDelivered(ctx, d.Seq, s.wallet.worker); err != nil {
					s.log.Error("wallet outbox", "err", err)
				}
				n++
				s.metrics.walletDelivered(d.Kind, "delivered")
				continue
			}
			s.metrics.walletDelivered(d.Kind, "failed")
			delay := time.Duration(float64(s.wallet.backoff) * math.Pow(2, float64(min(d.Attempts, 20))))
			delay = min(delay, walletMaxBackoff)
			s.log.Warn("wallet delivery failed, will retry", "kind", d.Kind, "card", d.CardID, "attempt", d.Attempts+1, "in", delay, "err", err)
			if err := s.db.WalletDeliveryFailed(ctx, d.Seq, s.wallet.worker, err.Error(), s.db.Now().Add(delay)); err != nil {
				s.log.Error("wallet outbox", "err", err)
			}
		}
	}
}

// deliverWallet makes one delivery. A wallet no longer configured cannot be delivered to:
// ErrGone, so the row is not retried for ever.
func (s *server) deliverWallet(ctx context.Context, d storage.WalletDelivery) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch d.Kind {
	case storage.WalletAPNs:
		if s.wallet.apns == nil {
			return wallet.ErrGone
		}
		return s.wallet.apns.Push(ctx, d.Target)
	case storage.WalletGoogle:
		if s.wallet.google == nil {
			return wallet.ErrGone
		}
		// The card's state now, not the one queued: a later change wins, and a retry never
		// sets an older state.
		cd, err := s.db.Card(ctx, "", d.CardID)
		if err != nil {
			return err
		}
		return s.wallet.google.UpdateState(ctx, d.CardID, string(cd.Status(s.db.Now())))
	}
	return wallet.ErrGone
}

// startWallet loads the wallets (refusing an expired certificate, warning about one that
// expires soon on out and in the metrics) into s.
func (s *server) startWallet(cfg WalletConfig, out io.Writer, log *slog.Logger) error {
	k, warnings, err := loadWallet(cfg, time.Now())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
		log.Warn("wallet certificate expires soon", "detail", w)
	}
	s.wallet = k
	s.walletWarnings = warnings
	s.metrics.watchWallet(k)
	return nil
}

// walletLinks are the card page's links to the card's passes, "" for a wallet not configured.
func (s *server) walletLinks(token string) (apple, google string) {
	if s.wallet == nil {
		return "", ""
	}
	if s.wallet.apple != nil {
		apple = "/api/v1/public/cards/" + token + "/pass.pkpass"
	}
	if s.wallet.google != nil {
		google = "/api/v1/public/cards/" + token + "/google-wallet"
	}
	return apple, google
}

// walletCertJSON is a wallet certificate that expires soon: apple_pass or apple_wwdr.
type walletCertJSON struct {
	Certificate string `json:"certificate"`
	ExpiresAt   string `json:"expires_at"`
}

// walletCertsExpiring are the configured wallet certificates that expire within
// wallet.WarnBefore of now.
func (s *server) walletCertsExpiring(now time.Time) []walletCertJSON {
	if s.wallet == nil || s.wallet.apple == nil {
		return nil
	}
	var out []walletCertJSON
	pass, wwdr := s.wallet.apple.Certificates()
	for _, c := range []struct {
		name string
		cert *x509.Certificate
	}{{"apple_pass", pass}, {"apple_wwdr", wwdr}} {
		if c.cert.NotAfter.Sub(now) < wallet.WarnBefore {
			out = append(out, walletCertJSON{c.name, timeJSON(c.cert.NotAfter)})
		}
	}
	return out
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/utils"
)

// server holds what every handler needs. It has no globals: tests build as many as they like.
type server struct {
	cfg       Config
	db        *storage.DB
	keys      *card.Keyring
	adminHash [32]byte
	qr        *qrCache
	log       *slog.Logger
	limits    limits
	trusted   trustedProxies
	ready     *readiness
	metrics   *metrics
	// metricsTokenHash is the SHA-256 of CITYCARD_METRICS_TOKEN, nil when none is set.
	metricsTokenHash []byte
	// wallet is what the configured wallets give (server/wallet.go; startWallet), nil
	// before it; walletWarnings the certificates' expiry warnings given at start.
	wallet         *walletKit
	walletWarnings []string
}

// newServer opens nothing: it wires an open database and its keyring into a server.
func newServer(cfg Config, db *storage.DB, keys *card.Keyring, adminToken string, log *slog.Logger) *server {
	s := &server{cfg: cfg, db: db, keys: keys, adminHash: sha256.Sum256([]byte(adminToken)), qr: newQRCache(4096), log: log,
		limits: newLimits(cfg.RateLimit), trusted: cfg.TrustedProxies, ready: &readiness{probe: db.CheckWritable, now: time.Now},
		metrics: newMetrics(db)}
	if cfg.MetricsToken != "" {
		sum := sha256.Sum256([]byte(cfg.MetricsToken))
		s.metricsTokenHash = sum[:]
	}
	db.SetObserver(s.metrics)
	return s
}

// app builds the Fiber app with every route.
func (s *server) app() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:      "citycard",
		ErrorHandler: handleError(s.log),
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  120 * time.Second,
		BodyLimit:    256 << 10,
		// A print sheet of 1,000 cards is named in its query string (ids=crd_…,…: 21 KiB).
		ReadBufferSize:        32 << 10,
		DisableStartupMessage: true,
		CaseSensitive:         true,
		StrictRouting:         false,
		// Strings from the context are copies, so nothing handed to the writer goroutine can
		// change under it when fasthttp reuses its buffers.
		Immutable: true,
	})
	app.Use(s.metrics.middleware) // first, to see every answer's final status
	app.Use(recover.New())
	app.Use(requestIDs)
	app.Use(securityHeaders)
	app.Use(s.limitAddress)
	app.Use(s.auditAddress)
	s.routes(app)
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	s.metrics.routes = newRouteMatcher(app.GetRoutes(true))
	return app
}

// requestIDs gives every request the server's own id (in the logs, the audit log's
// request_id and the response's X-Request-ID). Fiber's requestid middleware would adopt the
// client's X-Request-ID instead, letting a client choose the id its writes are audited under
// (or reuse another request's); the client's id is kept, cleaned, as client_request_id.
func requestIDs(c *fiber.Ctx) error {
	id := utils.UUIDv4()
	c.Locals("requestid", id)
	c.Set(fiber.HeaderXRequestID, id)
	if client := c.Get(fiber.HeaderXRequestID); client != "" {
		c.SetUserContext(storage.WithClientRequestID(c.UserContext(), client))
	}
	return c.Next()
}

// securityHeaders go on every response.
func securityHeaders(c *fiber.Ctx) error {
	setSecurityHeaders(c)
	return c.Next()
}

// setSecurityHeaders is securityHeaders for the error handler too, which also answers
// requests that never reached the middleware (a body over the limit, a malformed request).
func setSecurityHeaders(c *fiber.Ctx) {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "+
		"worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
}

// openStore opens the database and its keyring and settles the admin token: the configured
// one, else the one set on first start, else a new one returned as fresh (to print once).
func openStore(ctx context.Context, cfg Config) (db *storage.DB, keys *card.Keyring, adminToken string, fresh bool, err error) {
	if err := checkAdminToken(cfg.AdminToken); err != nil {
		return nil, nil, "", false, err
	}
	db, err = storage.Open(ctx, cfg.DB, cfg.Loc, cfg.storageOptions()...)
	if err != nil {
		return nil, nil, "", false, err
	}
	db.SetMaxOpenConflicts(cfg.MaxOpenConflicts)
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	if keys, err = db.Keyring(ctx, cfg.SigningKey); err != nil {
		return
	}
	if cfg.AdminToken != "" {
		return db, keys, cfg.AdminToken, false, nil
	}
	hash, err := db.AdminTokenHash(ctx)
	if err != nil {
		return
	}
	if hash != nil {
		// Only the hash is kept: a server started without CITYCARD_ADMIN_TOKEN checks against it.
		return db, keys, "", false, nil
	}
	adminToken = newSecret("cca")
	sum := sha256.Sum256([]byte(adminToken))
	stored, err := db.InitAdminTokenHash(ctx, sum[:])
	if err != nil {
		return
	}
	if !bytes.Equal(stored, sum[:]) {
		// Another instance on the same database set its token first: that one is printed
		// there, and this instance checks against its hash.
		return db, keys, "", false, nil
	}
	return db, keys, adminToken, true, nil
}

// newSecret is prefix_ and 32 random bytes in base64url: 256 bits, never guessed.
func newSecret(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(b)
}

// serve runs the service until ctx is done, then shuts down gracefully: stop accepting,
// finish requests in flight, drain queued writes, close the database.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// Listen first: a port already taken is said before any secret is printed, so a second
	// start never shows an admin token or a demo key for a service that is not running.
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if cfg.Demo && !cfg.dbFromConfig {
		dir, err := os.MkdirTemp("", "citycard-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DB = filepath.Join(dir, "demo.db")
	}
	db, keys, adminToken, fresh, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	s := newServer(cfg, db, keys, adminToken, log)
	if adminToken == "" {
		hash, err := db.AdminTokenHash(ctx)
		if err != nil {
			return err
		}
		copy(s.adminHash[:], hash)
	}
	if fresh {
		fmt.Fprintf(stdout, "admin token (shown once, keep it safe): %s\n", adminToken)
	}
	if cfg.Demo {
		shown := ""
		if fresh {
			shown = adminToken
		}
		if err := s.loadDemo(ctx, stdout, shown); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	// A checkpoint at start if the newest is more than a day old, then the periodic ones.
	if _, _, err := db.CheckpointIfDue(ctx, merchant.CheckpointStartup, checkpointAtLeast, checkpointAtLeast); err != nil {
		return fmt.Errorf("ledger checkpoint: %w", err)
	}
	// The wallets: an expired certificate refuses the start (docs/wallet.md).
	if err := s.startWallet(cfg.Wallet, stdout, log); err != nil {
		return err
	}
	walletCtx, stopWallet := context.WithCancel(ctx)
	walletDone := make(chan struct{})
	go s.walletLoop(walletCtx, walletDone)
	defer func() { stopWallet(); <-walletDone }()
	cpCtx, stopCheckpoints := context.WithCancel(ctx)
	cpDone := make(chan struct{})
	go s.checkpointLoop(cpCtx, cpDone)
	defer func() { stopCheckpoints(); <-cpDone }()
	retentionDone := make(chan struct{})
	go s.retentionLoop(cpCtx, retentionDone)
	defer func() { stopCheckpoints(); <-retentionDone }()
	app := s.app()
	fmt.Fprintf(stdout, "citycard listening on %s (database %s, zone %s)\n", ln.Addr(), db.Describe(), cfg.TZ)
	errc := make(chan error, 2)
	go func() { errc <- app.Listener(lingering(ln)) }()
	metricsCtx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			app.Shutdown()
			return fmt.Errorf("CITYCARD_METRICS_ADDR: %w", err)
		}
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", mln.Addr())
		go func() {
			if err := s.serveMetrics(metricsCtx, mln); err != nil {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
	}
	select {
	case err := <-errc:
		app.Shutdown()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	if err := app.ShutdownWithTimeout(20 * time.Second); err != nil {
		log.Error("shutdown", "err", err)
	}
	return nil
}

// listen opens the service's address, saying what to do when it is taken.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("address %s is already in use (is citycard already running?): start it on another one with --addr, e.g. --addr 127.0.0.1:8081, or CITYCARD_ADDR", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w (choose another address with --addr or CITYCARD_ADDR)", addr, err)
	}
	return ln, nil
}

// healthcheck asks the local service's path (/healthz or /readyz); for container
// HEALTHCHECKs, which have no curl.
func healthcheck(ctx context.Context, cfg Config, path string) error {
	addr := cfg.Addr
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("unhealthy: " + resp.Status)
	}
	return nil
}

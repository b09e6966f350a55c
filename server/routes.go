package main

import "github.com/gofiber/fiber/v2"

// routes registers every route of the service: the whole API on one screen.
func (s *server) routes(app *fiber.App) {
	app.Get("/healthz", s.handleHealth)
	app.Get("/readyz", s.handleReady)
	app.Get("/metrics", s.handleMetrics)    // with CITYCARD_METRICS_TOKEN only; see metrics.go
	app.Get("/", s.handleHome)              // the front door: the town's page, or the list of the towns
	app.Get("/t/:code", s.handleTownHome)   // a town's page
	app.Get("/towns.css", s.handleTownsCSS) // each town's colour, for its pages
	app.Get("/privacy", s.handlePrivacy)    // a town's privacy notice (server/privacy.go)
	app.Get("/t/:code/privacy", s.handleTownPrivacy)

	// Public: the tourist's page and what it needs. Never a bare card number, never a holder.
	app.Get("/c/:token", s.handleCardPage)
	app.Get("/c/:token/qr.png", s.handlePublicCardQR)
	app.Get("/c/:token/manifest.webmanifest", s.handleCardManifest)
	app.Get("/sw.js", s.handleServiceWorker)
	app.Get("/static/*", s.handleStatic)

	// Pages: the shop's web till and the office's console (static shells calling the API).
	app.Get("/pos", s.handlePosPage)
	app.Get("/pos/manifest.webmanifest", s.handlePosManifest)
	app.Get("/admin", s.handleAdminPage)
	pub := app.Group("/api/v1/public")
	pub.Get("/cards/:token", s.handlePublicCardGet)
	pub.Get("/offers", s.handlePublicOffersList)
	pub.Get("/keys", s.handlePublicKeys)
	pub.Get("/ledger/checkpoints", s.handleLedgerCheckpoints)
	pub.Get("/towns", s.handlePublicTowns)
	pub.Get("/open-data/catalog", s.handleOpenDataCatalog)        // DCAT-AP, for open-data portals (server/opendata.go)
	pub.Get("/cards/:token/pass.pkpass", s.handleWalletApplePass) // wallet passes (server/wallet.go)
	pub.Get("/cards/:token/google-wallet", s.handleWalletGoogle)
	// Apple's PassKit web service, called by the wallet app with the pass's own token.
	app.Post("/wallet/v1/devices/:device/registrations/:passType/:serial", s.handleWalletRegister)
	app.Delete("/wallet/v1/devices/:device/registrations/:passType/:serial", s.handleWalletUnregister)
	app.Get("/wallet/v1/devices/:device/registrations/:passType", s.handleWalletSerials)
	app.Get("/wallet/v1/passes/:passType/:serial", s.handleWalletLatestPass)
	app.Post("/wallet/v1/log", s.handleWalletLog)
	// Registered before the admin group, whose middleware would otherwise ask for the token.
	app.Get("/api/v1/reports/open-data", s.handleOpenData)
	// A till pairs with a one-time code from the console (the code is the credential).
	app.Post("/api/v1/pos/pair", s.handlePosPair)

	// Admin: the town-centre office and the municipality.
	admin := app.Group("/api/v1", s.requireAdminFor("/api/v1/pos", "/api/v1/public"))
	admin.Post("/products", s.handleProductCreate)
	admin.Get("/products", s.handleProductList)
	admin.Post("/cards", s.handleCardCreate)
	admin.Post("/cards/batch", s.handleCardBatch)
	admin.Get("/cards", s.handleCardList)
	admin.Get("/cards/sheet.pdf", s.handleCardSheet) // before /cards/:id, which would take it
	admin.Get("/cards/:id", s.handleCardGet)
	admin.Post("/cards/:id/block", s.handleCardBlock)
	admin.Post("/cards/:id/unblock", s.handleCardUnblock)
	admin.Get("/cards/:id/qr.png", s.handleCardQR)
	admin.Get("/cards/:id/personal-data", s.handleCardPersonalData)
	admin.Post("/cards/:id/erase", s.handleCardErase)
	admin.Get("/batches", s.handleBatchList)
	admin.Get("/batches/:id", s.handleBatchGet)
	admin.Get("/batches/:id/sheet.pdf", s.handleBatchSheet)
	admin.Post("/merchants", s.handleMerchantCreate)
	admin.Get("/merchants", s.handleMerchantList)
	admin.Get("/merchants/:id", s.handleMerchantGet)
	admin.Patch("/merchants/:id", s.handleMerchantUpdate)
	admin.Post("/merchants/:id/key", s.handleMerchantKeyRotate)
	admin.Post("/merchants/:id/pairings", s.handlePairingCreate)
	admin.Post("/merchants/:id/offers", s.handleOfferCreate)
	admin.Get("/offers", s.handleOfferList)
	admin.Get("/offers/:id", s.handleOfferGet)
	admin.Patch("/offers/:id", s.handleOfferUpdate)
	admin.Get("/redemptions", s.handleRedemptionList)
	admin.Post("/redemptions/:id/void", s.handleRedemptionVoid)
	admin.Post("/redemptions/:id/accept", s.handleConflictAccept) // offline conflicts
	admin.Post("/redemptions/:id/reject", s.handleConflictReject)
	admin.Get("/redemptions/conflicts/groups", s.handleConflictGroups) // in bulk (docs/offline.md)
	admin.Post("/redemptions/conflicts/decide", s.handleConflictDecideBulk)
	admin.Get("/reports/monthly", s.handleReportMonthly)
	admin.Get("/reports/network", s.handleReportNetwork)
	admin.Get("/audit", s.handleAuditList)
	admin.Post("/reports/monthly/:month/close", s.handleReportClose)
	admin.Get("/reports/statements", s.handleStatementList)
	admin.Get("/ledger/verify", s.handleLedgerVerify)
	// The network: towns and their offices (network admin; an office reads its own town).
	admin.Post("/towns", s.handleTownCreate)
	admin.Get("/me", s.handleMe) // who the console signed in as (server/me.go)
	admin.Get("/towns", s.handleTownList)
	admin.Get("/towns/:code", s.handleTownGet)
	admin.Patch("/towns/:code", s.handleTownUpdate)
	admin.Post("/towns/:code/tokens", s.handleOfficeTokenCreate)
	admin.Get("/towns/:code/tokens", s.handleOfficeTokenList)
	admin.Delete("/towns/:code/tokens/:id", s.handleOfficeTokenRevoke)

	// Till: a merchant's API key.
	pos := app.Group("/api/v1/pos", s.requireMerchant)
	pos.Get("/me", s.handlePosMe)
	pos.Post("/check", s.handlePosCheck)
	pos.Post("/quote", s.handlePosQuote)
	pos.Post("/redemptions", s.handlePosRedeem)
	pos.Post("/redemptions/sync", s.handlePosSync) // offline tills (server/offline.go)
	pos.Get("/offline-pack", s.handleOfflinePack)
	pos.Get("/redemptions", s.handlePosRedemptionList)
	pos.Post("/redemptions/:id/void", s.handlePosVoid)
	pos.Get("/statements", s.handlePosStatements)
}

// requireAdminFor is requireAdmin for a group mounted on /api/v1, skipping the sub-trees that
// have their own rules (Fiber runs a group's middleware for every path under its prefix).
func (s *server) requireAdminFor(skip ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		for _, p := range skip {
			if len(c.Path()) >= len(p) && c.Path()[:len(p)] == p {
				return c.Next()
			}
		}
		return s.requireAdmin(c)
	}
}

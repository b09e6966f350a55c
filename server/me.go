package main

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// meJSON tells the console who signed in: the network admin (role "network": every town,
// town is the one it acts in, null when it names none in a deployment of several) or a town's
// office (role "office": its town only). towns are the towns the caller may see.
type meJSON struct {
	Role  string     `json:"role"`
	Town  *string    `json:"town"`
	Towns []townJSON `json:"towns"`
	// WalletCertificates are the wallet certificates that expire within 30 days, for the
	// network admin's console to warn about (docs/wallet.md).
	WalletCertificates []walletCertJSON `json:"wallet_certificates,omitempty"`
}

// handleMe answers GET /api/v1/me for an admin-side token, so the console knows whether to
// offer the town switcher and the network's tabs. 401 without a valid token, 403 for a
// merchant key (requireAdmin).
func (s *server) handleMe(c *fiber.Ctx) error {
	ctx := c.UserContext()
	out := meJSON{Role: roleOffice, Towns: []townJSON{}}
	if isNetwork(c) {
		out.Role = roleNetwork
	}
	if t, _ := c.Locals("town").(string); t != "" {
		out.Town = &t
	}
	if out.Role == roleOffice {
		t, err := s.db.Town(ctx, *out.Town)
		if err != nil {
			return err
		}
		out.Towns = append(out.Towns, toTownJSON(t))
		return c.JSON(out)
	}
	out.WalletCertificates = s.walletCertsExpiring(time.Now())
	towns, err := s.db.Towns(ctx)
	if err != nil {
		return err
	}
	for _, t := range towns {
		out.Towns = append(out.Towns, toTownJSON(t))
	}
	return c.JSON(out)
}

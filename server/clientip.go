package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// Client addresses for the per-address limits. Behind a reverse proxy every connection comes
// from the proxy, so the limits would treat all clients as one. X-Forwarded-For names the
// client, but anyone can send it: it is believed only from a peer in CITYCARD_TRUSTED_PROXIES,
// and only as far as the chain of trusted proxies reaches. Each proxy appends the address it
// saw, so the right-most address that is not a trusted proxy is the one the first trusted
// proxy was connected from; whatever a client wrote to the left of it is ignored.

// trustedProxies is a set of addresses and networks whose X-Forwarded-For is believed.
type trustedProxies []netip.Prefix

// parseTrustedProxies reads a comma-separated list of IP addresses and CIDR networks
// ("10.0.0.1, 192.168.0.0/16, ::1"); an empty list trusts nobody.
func parseTrustedProxies(s string) (trustedProxies, error) {
	var out trustedProxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("CITYCARD_TRUSTED_PROXIES: %q is not an IP address or CIDR network", f)
			}
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("CITYCARD_TRUSTED_PROXIES: %q is not an IP address or CIDR network", f)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// contains says whether a is one of the trusted proxies.
func (t trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the client's address as the limits see it: the peer's address, or, when the
// peer is a trusted proxy, the right-most X-Forwarded-For address that is not a trusted
// proxy (the left-most one when every one is). An entry that is not an address ends the walk
// there: a trusted proxy never writes one, so the chain cannot be believed beyond it.
func (t trustedProxies) clientAddr(peer netip.Addr, forwardedFor [][]byte) netip.Addr {
	peer = peer.Unmap().WithZone("")
	if len(t) == 0 || !t.contains(peer) {
		return peer
	}
	client := peer
	// Several X-Forwarded-For lines are one list, in order (RFC 9110, section 5.3).
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		list := string(forwardedFor[i])
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				entry, list = list[j+1:], list[:j]
			} else {
				entry, list = list, ""
			}
			a, ok := parseForwarded(strings.TrimSpace(entry))
			if !ok {
				return client
			}
			client = a
			if !t.contains(a) {
				return a
			}
		}
	}
	return client
}

// parseForwarded reads one X-Forwarded-For entry: an address, possibly with a port
// ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseForwarded(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// limitKey is the key of an address in the per-address limiters. An IPv6 client usually
// holds a whole /64, so it is counted as one: otherwise it could take a fresh bucket for
// every request.
func limitKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// clientKey is the per-address limiters' key for the request's client.
func (s *server) clientKey(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.IP()
	}
	return limitKey(s.trusted.clientAddr(peer, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)))
}

// auditAddress hands the client's address to the audit log of the API's writes (storage:
// WithClientAddr), kept whole for CITYCARD_AUDIT_ADDRESS_DAYS and then shortened.
func (s *server) auditAddress(c *fiber.Ctx) error {
	if !strings.HasPrefix(c.Path(), "/api/") {
		return c.Next()
	}
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Next()
	}
	a := s.trusted.clientAddr(peer, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor))
	c.SetUserContext(storage.WithClientAddr(c.UserContext(), a.String()))
	return c.Next()
}

package wallet

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultAPNsURL is Apple's production push service.
const DefaultAPNsURL = "https://api.push.apple.com"

// ErrGone is a delivery whose target no longer exists (an APNs token unregistered, a Google
// object never saved): nothing to retry.
var ErrGone = errors.New("the wallet no longer holds the pass")

// APNs pushes "fetch the pass again" to devices over HTTP/2 with the pass certificate.
type APNs struct {
	base   string
	topic  string
	client *http.Client
}

// NewAPNs is a client of the push service at base (DefaultAPNsURL, or CITYCARD_APNS_URL)
// authenticating with a's pass certificate; rootCAs (nil: the system's) verifies the server.
func NewAPNs(a *Apple, base string, tlsConfig *tls.Config) *APNs {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig = tlsConfig.Clone()
	tlsConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{a.cert.Raw, a.wwdr.Raw}, PrivateKey: a.key, Leaf: a.cert}}
	tlsConfig.MinVersion = tls.VersionTLS12
	tr := &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true, IdleConnTimeout: 5 * time.Minute, TLSHandshakeTimeout: 10 * time.Second}
	return &APNs{base: strings.TrimRight(base, "/"), topic: a.PassTypeID, client: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// Push tells the device with pushToken to ask for its updated passes (an empty payload, the
// pass type as apns-topic). ErrGone when Apple says the token is no longer valid.
func (p *APNs) Push(ctx context.Context, pushToken string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/3/device/"+pushToken, bytes.NewReader([]byte("{}")))
	if err != nil {
		return err
	}
	req.Header.Set("apns-topic", p.topic)
	req.Header.Set("apns-push-type", "background")
	req.Header.Set("apns-priority", "5")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusGone, resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("BadDeviceToken")):
		return fmt.Errorf("%w: APNs %d %s", ErrGone, resp.StatusCode, body)
	default:
		return fmt.Errorf("APNs %d %s", resp.StatusCode, body)
	}
}

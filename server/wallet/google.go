package wallet

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultGoogleAPI is the Google Wallet REST API's base.
const DefaultGoogleAPI = "https://walletobjects.googleapis.com"

// SaveURLBase is where a "save to Google Wallet" link points; the JWT follows it.
const SaveURLBase = "https://pay.google.com/gp/v/save/"

const googleScope = "https://www.googleapis.com/auth/wallet_object.issuer"

// Google makes "save to Google Wallet" links and updates the saved objects, as the issuer's
// service account.
type Google struct {
	IssuerID string
	email    string
	keyID    string
	key      *rsa.PrivateKey
	tokenURI string
	api      string
	client   *http.Client

	mu       sync.Mutex
	token    string
	tokenEnd time.Time
}

// serviceAccount is the JSON key file of a Google Cloud service account.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

// LoadGoogle reads a service account's JSON key (CITYCARD_GOOGLE_WALLET_KEY) for the issuer
// issuerID; api is the Wallet REST API's base (DefaultGoogleAPI, or CITYCARD_GOOGLE_WALLET_API).
// OAuth tokens come from the key's token_uri.
func LoadGoogle(keyJSON []byte, issuerID, api string) (*Google, error) {
	if issuerID == "" {
		return nil, errors.New("CITYCARD_GOOGLE_ISSUER_ID is needed with CITYCARD_GOOGLE_WALLET_KEY")
	}
	var sa serviceAccount
	if err := json.Unmarshal(keyJSON, &sa); err != nil {
		return nil, fmt.Errorf("CITYCARD_GOOGLE_WALLET_KEY: not a service account's JSON key: %w", err)
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" || sa.TokenURI == "" {
		return nil, errors.New("CITYCARD_GOOGLE_WALLET_KEY: the JSON key lacks client_email, private_key or token_uri (create a JSON key for the service account)")
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, errors.New("CITYCARD_GOOGLE_WALLET_KEY: private_key holds no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("CITYCARD_GOOGLE_WALLET_KEY: private_key: %w", err)
		}
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("CITYCARD_GOOGLE_WALLET_KEY: private_key is not an RSA key")
	}
	if api == "" {
		api = DefaultGoogleAPI
	}
	return &Google{IssuerID: issuerID, email: sa.ClientEmail, keyID: sa.PrivateKeyID, key: key, tokenURI: sa.TokenURI,
		api: strings.TrimRight(api, "/"), client: &http.Client{Timeout: 15 * time.Second}}, nil
}

// ObjectID is the Google Wallet object id of a card: {issuer}.{card id}.
func (g *Google) ObjectID(cardID string) string { return g.IssuerID + "." + cardID }

// classID is the class of a product's cards: {issuer}.{product code}.
func (g *Google) classID(product string) string {
	return g.IssuerID + "." + strings.NewReplacer("-", "_").Replace(product)
}

// State is the object's state for a card's state.
func State(cardState string) string {
	switch cardState {
	case "blocked":
		return "INACTIVE"
	case "expired":
		return "EXPIRED"
	default:
		return "ACTIVE"
	}
}

type localized struct {
	DefaultValue     translated   `json:"defaultValue"`
	TranslatedValues []translated `json:"translatedValues,omitempty"`
}

type translated struct {
	Language string `json:"language"`
	Value    string `json:"value"`
}

func (p Pass) localized(key string) localized {
	l := localized{DefaultValue: translated{p.Langs[0], p.text(p.Langs[0], key)}}
	for _, lang := range p.Langs[1:] {
		l.TranslatedValues = append(l.TranslatedValues, translated{lang, p.text(lang, key)})
	}
	return l
}

// Object is the card's generic object, as the save link holds it inline.
func (g *Google) Object(p Pass) map[string]any {
	obj := map[string]any{
		"id":                 g.ObjectID(p.Serial),
		"classId":            g.classID(p.ProductCode),
		"state":              State(p.State),
		"hexBackgroundColor": p.Color,
		"cardTitle":          map[string]any{"defaultValue": p.localized(TextCardName).DefaultValue, "translatedValues": p.localized(TextCardName).TranslatedValues},
		"header":             p.localized(TextProductName),
		"subheader":          p.localized(TextNumber),
		"barcode":            map[string]any{"type": "QR_CODE", "value": p.QR, "alternateText": p.Number},
		"textModulesData":    []map[string]any{{"id": "benefits", "localizedHeader": p.localized(TextBenefits), "localizedBody": p.localized(TextBenefitList)}},
	}
	if p.ValidFrom != nil && p.ExpiresAt != nil {
		obj["validTimeInterval"] = map[string]any{"start": map[string]string{"date": p.ValidFrom.UTC().Format(time.RFC3339)},
			"end": map[string]string{"date": p.ExpiresAt.UTC().Format(time.RFC3339)}}
	}
	return obj
}

// SaveURL is the "save to Google Wallet" link of p: an RS256 JWT by the service account
// holding the object (and its class) inline, for the origins (the town's public URL).
func (g *Google) SaveURL(p Pass, origins []string, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss":     g.email,
		"aud":     "google",
		"typ":     "savetowallet",
		"iat":     now.Unix(),
		"origins": origins,
		"payload": map[string]any{
			"genericClasses": []map[string]any{{"id": g.classID(p.ProductCode)}},
			"genericObjects": []map[string]any{g.Object(p)},
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if g.keyID != "" {
		t.Header["kid"] = g.keyID
	}
	s, err := t.SignedString(g.key)
	if err != nil {
		return "", err
	}
	return SaveURLBase + s, nil
}

// PublicKey is the service account's public key (for tests and checks).
func (g *Google) PublicKey() *rsa.PublicKey { return &g.key.PublicKey }

// UpdateState PATCHes the card's object to the state of cardState. ErrGone when the object
// does not exist (its link was never saved).
func (g *Google) UpdateState(ctx context.Context, cardID, cardState string) error {
	tok, err := g.accessToken(ctx)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"state": State(cardState)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, g.api+"/walletobjects/v1/genericObject/"+url.PathEscape(g.ObjectID(cardID)), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: Google Wallet 404 %s", ErrGone, msg)
	case resp.StatusCode == http.StatusUnauthorized:
		g.mu.Lock()
		g.token = "" // fetch a new one at the next attempt
		g.mu.Unlock()
	}
	return fmt.Errorf("Google Wallet %d %s", resp.StatusCode, msg)
}

// accessToken is an OAuth access token for the Wallet API, from the key's token_uri (a JWT
// bearer grant), kept until a minute before it ends.
func (g *Google) accessToken(ctx context.Context) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.token != "" && time.Now().Before(g.tokenEnd) {
		return g.token, nil
	}
	now := time.Now()
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": g.email, "scope": googleScope, "aud": g.tokenURI, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString(g.key)
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.tokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := g.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("Google OAuth %d %s", resp.StatusCode, msg)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("Google OAuth: no access token in the answer (%v)", err)
	}
	g.token, g.tokenEnd = out.AccessToken, now.Add(time.Duration(out.ExpiresIn)*time.Second-time.Minute)
	return g.token, nil
}

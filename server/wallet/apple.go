package wallet

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
	"software.sslmate.com/src/go-pkcs12"
)

// Apple makes signed Apple Wallet passes with a Pass Type ID certificate.
type Apple struct {
	PassTypeID string
	TeamID     string
	cert       *x509.Certificate
	key        crypto.PrivateKey
	wwdr       *x509.Certificate
}

// LoadApple reads the pass certificate and its key from a PKCS#12 file (as macOS Keychain or
// OpenSSL 3 exports it: modern AES or legacy encryption) and Apple's WWDR intermediate
// certificate (PEM). It checks that the pass certificate was issued by the WWDR certificate.
func LoadApple(p12 []byte, password string, wwdrPEM []byte, passTypeID, teamID string) (*Apple, error) {
	if passTypeID == "" || teamID == "" {
		return nil, errors.New("CITYCARD_APPLE_PASS_TYPE_ID and CITYCARD_APPLE_TEAM_ID are needed with CITYCARD_APPLE_PASS_CERT")
	}
	key, cert, _, err := pkcs12.DecodeChain(p12, password)
	if err != nil {
		return nil, fmt.Errorf("CITYCARD_APPLE_PASS_CERT: %w (is CITYCARD_APPLE_PASS_PASSWORD right?)", err)
	}
	block, _ := pem.Decode(wwdrPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("CITYCARD_APPLE_WWDR: no PEM certificate in the file (convert a .cer with: openssl x509 -inform DER -in AppleWWDRCAG4.cer -out wwdr.pem)")
	}
	wwdr, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CITYCARD_APPLE_WWDR: %w", err)
	}
	if err := cert.CheckSignatureFrom(wwdr); err != nil {
		return nil, fmt.Errorf("the pass certificate %q was not issued by the WWDR certificate %q (download the WWDR generation named in the certificate's issuer): %w",
			cert.Subject.CommonName, wwdr.Subject.CommonName, err)
	}
	return &Apple{PassTypeID: passTypeID, TeamID: teamID, cert: cert, key: key, wwdr: wwdr}, nil
}

// Certificates are the pass certificate and the WWDR certificate, for their expiry.
func (a *Apple) Certificates() (pass, wwdr *x509.Certificate) { return a.cert, a.wwdr }

// Build makes the signed .pkpass file of p: a zip of pass.json, the images, each language's
// pass.strings, manifest.json (the SHA-1 of every other file) and signature (PKCS#7
// detached, DER, over manifest.json, with the WWDR certificate). Built anew on every call,
// so a renewed certificate signs every pass fetched after it.
func (a *Apple) Build(p Pass) ([]byte, error) {
	files := map[string][]byte{}
	pj, err := json.MarshalIndent(a.passJSON(p), "", " ")
	if err != nil {
		return nil, err
	}
	files["pass.json"] = pj
	for name, img := range images(p.Color) {
		files[name] = img
	}
	for _, l := range p.Langs {
		files[l+".lproj/pass.strings"] = passStrings(p, l)
	}
	manifest := map[string]string{}
	for name, b := range files {
		sum := sha1.Sum(b)
		manifest[name] = hex.EncodeToString(sum[:])
	}
	mj, err := json.MarshalIndent(manifest, "", " ")
	if err != nil {
		return nil, err
	}
	files["manifest.json"] = mj
	if files["signature"], err = a.sign(mj); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := z.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sign is the detached PKCS#7 signature of manifest, DER, by the pass certificate with the
// WWDR certificate in the chain.
func (a *Apple) sign(manifest []byte) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(manifest)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(a.cert, a.key, []*x509.Certificate{a.wwdr}, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign the pass: %w", err)
	}
	sd.Detach()
	return sd.Finish()
}

type passField struct {
	Key       string `json:"key"`
	Label     string `json:"label,omitempty"`
	Value     string `json:"value"`
	DateStyle string `json:"dateStyle,omitempty"`
	TimeStyle string `json:"timeStyle,omitempty"`
}

type passBarcode struct {
	Format          string `json:"format"`
	Message         string `json:"message"`
	MessageEncoding string `json:"messageEncoding"`
	AltText         string `json:"altText"`
}

// passJSON is pass.json. Texts are keys of pass.strings, so each language reads its own.
func (a *Apple) passJSON(p Pass) map[string]any {
	bc := passBarcode{Format: "PKBarcodeFormatQR", Message: p.QR, MessageEncoding: "iso-8859-1", AltText: p.Number}
	secondary := []passField{{Key: "number", Label: TextNumber, Value: p.Number}}
	switch {
	case p.ExpiresAt != nil:
		secondary = append(secondary, passField{Key: "valid_until", Label: TextValidUntil, Value: p.ExpiresAt.UTC().Format(time.RFC3339),
			DateStyle: "PKDateStyleMedium", TimeStyle: "PKDateStyleShort"})
	default:
		secondary = append(secondary, passField{Key: "activate_by", Label: TextActivateBy, Value: p.ActivateBy.UTC().Format(time.RFC3339),
			DateStyle: "PKDateStyleMedium"})
	}
	fg, bg := "rgb(255, 255, 255)", rgb(p.Color)
	out := map[string]any{
		"formatVersion":      1,
		"passTypeIdentifier": a.PassTypeID,
		"teamIdentifier":     a.TeamID,
		"serialNumber":       p.Serial,
		"organizationName":   p.text(p.Langs[0], TextCardName),
		"description":        p.text(p.Langs[0], TextDescription),
		"logoText":           TextCardName,
		"foregroundColor":    fg,
		"labelColor":         fg,
		"backgroundColor":    bg,
		"barcodes":           []passBarcode{bc},
		"barcode":            bc, // iOS before 9
		"generic": map[string]any{
			"primaryFields":   []passField{{Key: "product", Label: TextProduct, Value: TextProductName}},
			"secondaryFields": secondary,
			"auxiliaryFields": []passField{{Key: "status", Label: TextStatus, Value: TextStatusValue}},
			"backFields":      []passField{{Key: "benefits", Label: TextBenefits, Value: TextBenefitList}},
		},
		"sharingProhibited": true,
	}
	if p.ExpiresAt != nil {
		out["expirationDate"] = p.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if p.Voided {
		out["voided"] = true
	}
	if p.WebService != "" && p.AuthToken != "" {
		out["webServiceURL"] = p.WebService
		out["authenticationToken"] = p.AuthToken
	}
	return out
}

// passStrings is lang's pass.strings: "key" = "text"; for every key of the pass (UTF-8,
// which Wallet reads since iOS 6).
func passStrings(p Pass, lang string) []byte {
	keys := []string{TextCardName, TextDescription, TextProduct, TextProductName, TextNumber, TextValidUntil, TextActivateBy,
		TextStatus, TextStatusValue, TextBenefits, TextBenefitList}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s;\n", quoteStrings(k), quoteStrings(p.text(lang, k)))
	}
	return []byte(b.String())
}

// quoteStrings quotes s for a .strings file.
func quoteStrings(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// rgb is the #rrggbb colour as pass.json's rgb(r, g, b).
func rgb(hexColor string) string {
	var r, g, b uint8
	if _, err := fmt.Sscanf(strings.TrimPrefix(hexColor, "#"), "%02x%02x%02x", &r, &g, &b); err != nil {
		r, g, b = 0x0b, 0x5c, 0xad
	}
	return fmt.Sprintf("rgb(%d, %d, %d)", r, g, b)
}

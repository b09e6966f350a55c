// Package wallettest makes what wallet tests need and no operator has at hand: a test CA
// (root → an intermediate standing in for Apple's WWDR → a pass certificate, exported as
// PKCS#12) and a Google service account's JSON key.
package wallettest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// PassTypeID and TeamID are the test pass certificate's.
const (
	PassTypeID = "pass.org.citycard.test"
	TeamID     = "TEAM123456"
	Password   = "test-password"
)

// Chain is a test CA and its pass certificate.
type Chain struct {
	RootPEM, WWDRPEM []byte
	P12              []byte // the pass certificate and key, PKCS#12 (modern AES), Password
	P12Legacy        []byte // the same, legacy encryption (RC2/3DES)
	PassPEM, KeyPEM  []byte // the pass certificate and its key, PEM (for openssl pkcs12 -export)
	Root, WWDR, Pass *x509.Certificate
}

// NewChain makes a root, an intermediate "WWDR" and a pass certificate valid until
// notAfter (the CA certificates a year longer).
func NewChain(tb testing.TB, notAfter time.Time) Chain {
	tb.Helper()
	now := time.Now()
	rootKey := mustEC(tb)
	root := mustCert(tb, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, rootKey, rootKey)
	wwdrKey := mustEC(tb)
	wwdr := mustCert(tb, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test WWDR"},
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, root, wwdrKey, rootKey)
	passKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	pass := mustCert(tb, &x509.Certificate{SerialNumber: big.NewInt(3),
		Subject:   pkix.Name{CommonName: "Pass Type ID: " + PassTypeID, OrganizationalUnit: []string{TeamID}, Organization: []string{"Test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageAny}}, wwdr, passKey, wwdrKey)
	p12, err := pkcs12.Modern2023.Encode(passKey, pass, nil, Password)
	if err != nil {
		tb.Fatal(err)
	}
	legacy, err := pkcs12.LegacyDES.Encode(passKey, pass, nil, Password)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(passKey)
	if err != nil {
		tb.Fatal(err)
	}
	return Chain{RootPEM: certPEM(root), WWDRPEM: certPEM(wwdr), P12: p12, P12Legacy: legacy, Root: root, WWDR: wwdr, Pass: pass,
		PassPEM: certPEM(pass), KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}
}

func mustEC(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustCert(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.Signer, signer any) *x509.Certificate {
	tb.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub.Public(), signer)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ServiceAccount is a Google service account's JSON key whose token_uri is tokenURI, and its key.
func ServiceAccount(tb testing.TB, tokenURI string) ([]byte, *rsa.PrivateKey) {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	j, err := json.Marshal(map[string]string{"type": "service_account", "project_id": "test", "private_key_id": "kid1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "wallet@test.iam.gserviceaccount.com", "token_uri": tokenURI})
	if err != nil {
		tb.Fatal(err)
	}
	return j, k
}

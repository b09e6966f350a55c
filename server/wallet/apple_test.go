package wallet_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/server/wallet"
	"github.com/citycard/citycard/server/wallet/wallettest"
)

func samplePass() wallet.Pass {
	exp := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	from := exp.Add(-72 * time.Hour)
	text := map[string]map[string]string{}
	for _, l := range []string{"sl", "it", "en", "de"} {
		text[l] = map[string]string{wallet.TextCardName: "Koper Card " + l, wallet.TextDescription: "Koper Card 72 h",
			wallet.TextProductName: "72 ur " + l, wallet.TextBenefitList: "Muzej: 20 %\nKavarna \"Loža\": 10 %"}
	}
	return wallet.Pass{Serial: "crd_test", Number: "123456789012", QR: "https://koper.example/c/tok", Color: "#aa3300",
		State: "active", ExpiresAt: &exp, ValidFrom: &from, ActivateBy: exp, Origin: "https://koper.example",
		WebService: "https://koper.example/wallet", AuthToken: "0123456789abcdef0123456789abcdef", ProductCode: "koper-72h",
		Langs: []string{"sl", "it", "en", "de"}, Text: text}
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(r)
		r.Close()
	}
	return out
}

// opensslVerify checks the detached signature over content against root with openssl, an
// independent verifier.
func opensslVerify(t *testing.T, dir string, sig, content, rootPEM []byte) error {
	t.Helper()
	for name, b := range map[string][]byte{"signature": sig, "manifest.json": content, "root.pem": rootPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "signature", "-content", "manifest.json",
		"-CAfile", "root.pem", "-purpose", "any", "-out", os.DevNull)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

// TestApplePassSignature: a pass signed with a test CA's pass certificate (root → "WWDR" →
// pass, from a PKCS#12 file, modern and legacy) verifies against the root with openssl,
// every manifest hash matches its file, pass.json has the contract's fields, and a tampered
// manifest fails.
func TestApplePassSignature(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	chain := wallettest.NewChain(t, time.Now().AddDate(1, 0, 0))
	for name, p12 := range map[string][]byte{"modern AES": chain.P12, "legacy": chain.P12Legacy} {
		t.Run(name, func(t *testing.T) {
			a, err := wallet.LoadApple(p12, wallettest.Password, chain.WWDRPEM, wallettest.PassTypeID, wallettest.TeamID)
			if err != nil {
				t.Fatal(err)
			}
			p := samplePass()
			p.Voided = true
			b, err := a.Build(p)
			if err != nil {
				t.Fatal(err)
			}
			files := unzip(t, b)
			for _, want := range []string{"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png", "logo.png",
				"sl.lproj/pass.strings", "it.lproj/pass.strings", "en.lproj/pass.strings", "de.lproj/pass.strings"} {
				if _, ok := files[want]; !ok {
					t.Errorf("the pass lacks %s", want)
				}
			}
			var manifest map[string]string
			if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
				t.Fatal(err)
			}
			if got, want := len(manifest), len(files)-2; got != want {
				t.Errorf("manifest lists %d files, want %d (all but itself and the signature)", got, want)
			}
			for name, sum := range manifest {
				s := sha1.Sum(files[name])
				if got := hex.EncodeToString(s[:]); got != sum {
					t.Errorf("manifest: %s is %s, the file hashes to %s", name, sum, got)
				}
			}
			if err := opensslVerify(t, t.TempDir(), files["signature"], files["manifest.json"], chain.RootPEM); err != nil {
				t.Fatalf("openssl does not verify the signature: %s", err)
			}
			tampered := bytes.Replace(files["manifest.json"], []byte(manifest["pass.json"]), []byte(strings.Repeat("0", 40)), 1)
			if err := opensslVerify(t, t.TempDir(), files["signature"], tampered, chain.RootPEM); err == nil {
				t.Fatal("a tampered manifest verifies")
			}
			var pj map[string]any
			if err := json.Unmarshal(files["pass.json"], &pj); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]any{"formatVersion": 1.0, "passTypeIdentifier": wallettest.PassTypeID, "teamIdentifier": wallettest.TeamID,
				"serialNumber": "crd_test", "organizationName": "Koper Card sl", "voided": true, "webServiceURL": "https://koper.example/wallet",
				"authenticationToken": p.AuthToken, "expirationDate": "2026-12-10T12:00:00Z", "backgroundColor": "rgb(170, 51, 0)"} {
				if pj[k] != want {
					t.Errorf("pass.json %s = %v, want %v", k, pj[k], want)
				}
			}
			bc := pj["barcodes"].([]any)[0].(map[string]any)
			for k, want := range map[string]string{"format": "PKBarcodeFormatQR", "message": p.QR, "messageEncoding": "iso-8859-1", "altText": p.Number} {
				if bc[k] != want {
					t.Errorf("barcode %s = %v, want %v", k, bc[k], want)
				}
			}
			if s := string(files["it.lproj/pass.strings"]); !strings.Contains(s, `"product_name" = "72 ur it";`) || !strings.Contains(s, `Kavarna \"Loža\"`) {
				t.Errorf("it.lproj/pass.strings:\n%s", s)
			}
		})
	}
}

// TestLoadAppleRefuses: a wrong password, a WWDR that did not issue the certificate.
func TestLoadAppleRefuses(t *testing.T) {
	chain := wallettest.NewChain(t, time.Now().AddDate(1, 0, 0))
	other := wallettest.NewChain(t, time.Now().AddDate(1, 0, 0))
	if _, err := wallet.LoadApple(chain.P12, "wrong", chain.WWDRPEM, wallettest.PassTypeID, wallettest.TeamID); err == nil {
		t.Error("a wrong password loads")
	}
	if _, err := wallet.LoadApple(chain.P12, wallettest.Password, other.WWDRPEM, wallettest.PassTypeID, wallettest.TeamID); err == nil {
		t.Error("another WWDR loads")
	}
}

// TestCheckCertificate: expired refused, within 30 days warned, else quiet.
func TestCheckCertificate(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		left     time.Duration
		err, say bool
	}{{-time.Hour, true, false}, {10 * 24 * time.Hour, false, true}, {40 * 24 * time.Hour, false, false}} {
		chain := wallettest.NewChain(t, now.Add(tc.left))
		warn, err := wallet.CheckCertificate("pass certificate", chain.Pass, now)
		if (err != nil) != tc.err || (warn != "") != tc.say {
			t.Errorf("%v left: warning %q, error %v", tc.left, warn, err)
		}
	}
}

// TestLoadAppleOpenSSLExport: a .p12 as OpenSSL 3 exports it (openssl pkcs12 -export: AES-256
// and PBKDF2 by default; -legacy: RC2/3DES where the legacy provider is installed) loads and
// signs a pass that openssl verifies.
func TestLoadAppleOpenSSLExport(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	chain := wallettest.NewChain(t, time.Now().AddDate(1, 0, 0))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pass.pem"), chain.PassPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), chain.KeyPEM, 0o600)
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"default", nil}, {"legacy", []string{"-legacy"}}} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"pkcs12", "-export", "-inkey", "key.pem", "-in", "pass.pem", "-out", tc.name + ".p12", "-passout", "pass:" + wallettest.Password}, tc.extra...)
			cmd := exec.Command("openssl", args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				if tc.extra != nil {
					t.Skipf("openssl cannot export legacy here: %s", out)
				}
				t.Fatalf("openssl: %s", out)
			}
			p12, err := os.ReadFile(filepath.Join(dir, tc.name+".p12"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := wallet.LoadApple(p12, wallettest.Password, chain.WWDRPEM, wallettest.PassTypeID, wallettest.TeamID)
			if err != nil {
				t.Fatal(err)
			}
			b, err := a.Build(samplePass())
			if err != nil {
				t.Fatal(err)
			}
			files := unzip(t, b)
			if err := opensslVerify(t, t.TempDir(), files["signature"], files["manifest.json"], chain.RootPEM); err != nil {
				t.Fatalf("openssl does not verify: %s", err)
			}
		})
	}
}

// BenchmarkApplePassBuild: building and signing one pass, what every fetch costs.
func BenchmarkApplePassBuild(b *testing.B) {
	chain := wallettest.NewChain(b, time.Now().AddDate(1, 0, 0))
	a, err := wallet.LoadApple(chain.P12, wallettest.Password, chain.WWDRPEM, wallettest.PassTypeID, wallettest.TeamID)
	if err != nil {
		b.Fatal(err)
	}
	p := samplePass()
	for b.Loop() {
		if _, err := a.Build(p); err != nil {
			b.Fatal(err)
		}
	}
}

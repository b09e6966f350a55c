package main

import (
	"bytes"
	"context"
	"github.com/citycard/citycard/storage/storagetest"
	"net"
	"strings"
	"testing"
	"time"
)

// TestServePortTaken: when the address is taken, "citycard serve" says so and how to choose
// another, and prints no secret: a fresh database would otherwise print its admin token and
// the demo a merchant key, for a service that never ran.
func TestServePortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	db := storagetest.DSN(t)
	env := map[string]string{"CITYCARD_DB": db}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, []string{"serve", "--demo", "--addr", taken.Addr().String()}, func(k string) string { return env[k] }, &stdout, &stderr)
	if err == nil {
		t.Fatal("serve on a taken address returned no error")
	}
	for _, want := range []string{taken.Addr().String(), "already in use", "--addr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	out := stdout.String() + stderr.String()
	for _, secret := range []string{"cca_", "ccm_", "admin token"} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret was printed before the port was found taken: %s", out)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard/storage"
)

// startBenchServer runs the real app on a loopback port for HTTP benchmarks and returns a
// load client set up with a merchant, an unlimited offer and cards.
func startBenchServer(b testing.TB) (*loadClient, loadSetup) {
	b.Helper()
	lc, _ := startLoadServer(b)
	setup, err := lc.setup(context.Background(), "bench-admin", 500)
	if err != nil {
		b.Fatal(err)
	}
	return lc, setup
}

// startLoadServer runs the real app on a loopback port with the admin token "bench-admin".
func startLoadServer(b testing.TB) (*loadClient, string) {
	b.Helper()
	cfg := defaultConfig()
	cfg.DB = storagetest.DSN(b)
	cfg.RateLimit = 0
	cfg.Loc = mustLoad(b)
	db, err := storage.Open(context.Background(), cfg.DB, cfg.Loc)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := db.Keyring(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	s := newServer(cfg, db, keys, "bench-admin", slog.New(slog.NewTextHandler(io.Discard, nil)))
	app := s.app()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go app.Listener(ln)
	b.Cleanup(func() { app.Shutdown(); db.Close() })
	return &loadClient{base: "http://" + ln.Addr().String(), http: newLoadHTTPClient(128)}, ln.Addr().String()
}

// TestLoadtestCommand runs `citycard loadtest` briefly against a real server: every phase
// answers without errors and the table has each endpoint with its ratio to /healthz.
func TestLoadtestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a server for a second")
	}
	_, addr := startLoadServer(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"loadtest", "--url", "http://" + addr, "--admin-token", "bench-admin",
		"--tills", "4", "--duration", "300ms", "--cards", "20"}, func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, errOut.String())
	}
	if errOut.Len() > 0 {
		t.Fatalf("loadtest reported errors: %s", errOut.String())
	}
	for _, want := range []string{"healthz", "till check", "redemption", "100 %", "vs healthz"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && ((f[0] == "healthz" || f[0] == "redemption") && f[2] != "0" || f[0] == "till" && f[3] != "0") {
			t.Fatalf("errors in %q", line)
		}
	}
}

// BenchmarkHTTP measures whole requests over loopback, client included, with 64 concurrent
// tills (b.SetParallelism): the same paths as `citycard loadtest`, in-process so that
// -cpuprofile sees the server.
func BenchmarkHTTP(b *testing.B) {
	lc, setup := startBenchServer(b)
	auth := map[string]string{"Authorization": "Bearer " + setup.key}
	var seq atomic.Int64
	cases := []struct {
		name string
		do   func(i int64) (int, error)
	}{
		{"healthz", func(int64) (int, error) {
			st, _, err := lc.call(context.Background(), "GET", "/healthz", nil, nil)
			return st, err
		}},
		{"check", func(i int64) (int, error) {
			body, _ := json.Marshal(map[string]string{"card": setup.cards[i%int64(len(setup.cards))]})
			st, _, err := lc.call(context.Background(), "POST", "/api/v1/pos/check", body, auth)
			return st, err
		}},
		{"redeem", func(i int64) (int, error) {
			body, _ := json.Marshal(map[string]string{"card": setup.cards[i%int64(len(setup.cards))], "offer_id": setup.offer, "amount": "12.30"})
			st, _, err := lc.call(context.Background(), "POST", "/api/v1/pos/redemptions", body,
				map[string]string{"Authorization": auth["Authorization"], "Idempotency-Key": "b" + strconv.FormatInt(i, 10)})
			return st, err
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(32) // x GOMAXPROCS (2 here) = 64 tills
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if st, err := tc.do(seq.Add(1)); err != nil || st >= 300 {
						b.Errorf("status %d, %v", st, err)
						return
					}
				}
			})
		})
	}
}

func mustLoad(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

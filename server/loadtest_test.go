package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/citycard/citycard/server/tools"
)

// startBenchServer runs the real app on a loopback port for HTTP benchmarks and returns a
// load client set up with a merchant, an unlimited offer and cards.
func startBenchServer(b testing.TB) (*tools.LoadClient, tools.LoadSetup) {
	b.Helper()
	lc, _ := startLoadServer(b)
	setup, err := lc.Setup(context.Background(), "bench-admin", 500)
	if err != nil {
		b.Fatal(err)
	}
	return lc, setup
}

// startLoadServer runs the real app on a loopback port with the admin token "bench-admin".
func startLoadServer(b testing.TB) (*tools.LoadClient, string) {
	b.Helper()
	addrs, _ := startLoadServers(b, 1)
	return tools.NewLoadClient([]string{"http://" + addrs[0]}, 128), addrs[0]
}

// startLoadServers runs n apps on one database, each on its own loopback port with the admin
// token "bench-admin", and returns their addresses and how many connections each accepted.
func startLoadServers(b testing.TB, n int) ([]string, []*atomic.Int64) {
	b.Helper()
	var addrs []string
	var accepted []*atomic.Int64
	var first *testServer
	for range n {
		cl := &countingListener{}
		opts := []testOption{realClock(), rateLimit(0), withAdmin("bench-admin"), logTo(io.Discard),
			live(func(ln net.Listener) net.Listener { cl.Listener = ln; return cl })}
		if first != nil {
			opts = append(opts, onDBOf(first)) // the apps share one database handle
		}
		ts := newTestServer(b, opts...)
		if first == nil {
			first = ts
		}
		addrs = append(addrs, cl.Addr().String())
		accepted = append(accepted, &cl.n)
	}
	return addrs, accepted
}

// countingListener counts the connections it accepted.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
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

// TestLoadtestSeveralURLs runs `citycard loadtest` against two instances on one database:
// the header names both, the phases run without errors, and each instance takes tills' connections.
func TestLoadtestSeveralURLs(t *testing.T) {
	if testing.Short() {
		t.Skip("drives two servers for a second")
	}
	addrs, accepted := startLoadServers(t, 2)
	list := "http://" + addrs[0] + ", http://" + addrs[1] + "/"
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"loadtest", "--url", list, "--admin-token", "bench-admin",
		"--tills", "4", "--duration", "200ms", "--cards", "10"}, func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, errOut.String())
	}
	if errOut.Len() > 0 {
		t.Fatalf("loadtest reported errors: %s", errOut.String())
	}
	if want := "loadtest: http://" + addrs[0] + " + http://" + addrs[1] + ", 4 tills"; !strings.Contains(out.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, out.String())
	}
	// Each of the 4 tills holds its own connection: 2 tills per instance at least, plus the
	// setup's on the first.
	if a, b := accepted[0].Load(), accepted[1].Load(); a < 2 || b < 2 {
		t.Fatalf("connections accepted: %d and %d, want both at least 2", a, b)
	}
}

// BenchmarkHTTP measures whole requests over loopback, client included, with 64 concurrent
// tills (b.SetParallelism): the same paths as `citycard loadtest`, in-process so that
// -cpuprofile sees the server.
func BenchmarkHTTP(b *testing.B) {
	lc, setup := startBenchServer(b)
	auth := map[string]string{"Authorization": "Bearer " + setup.Key}
	var seq atomic.Int64
	cases := []struct {
		name string
		do   func(i int64) (int, error)
	}{
		{"healthz", func(int64) (int, error) {
			st, _, err := lc.Call(context.Background(), "GET", "/healthz", nil, nil)
			return st, err
		}},
		{"check", func(i int64) (int, error) {
			body, _ := json.Marshal(map[string]string{"card": setup.Cards[i%int64(len(setup.Cards))]})
			st, _, err := lc.Call(context.Background(), "POST", "/api/v1/pos/check", body, auth)
			return st, err
		}},
		{"redeem", func(i int64) (int, error) {
			body, _ := json.Marshal(map[string]string{"card": setup.Cards[i%int64(len(setup.Cards))], "offer_id": setup.Offer, "amount": "12.30"})
			st, _, err := lc.Call(context.Background(), "POST", "/api/v1/pos/redemptions", body,
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

// TestLoadtestTowns: --towns 3 creates three towns, each with its merchant, offer and cards,
// and the phases run in all of them without an error.
func TestLoadtestTowns(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a server for a second")
	}
	lc, addr := startLoadServer(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"loadtest", "--url", "http://" + addr, "--admin-token", "bench-admin",
		"--tills", "6", "--duration", "300ms", "--cards", "30", "--towns", "3"}, func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, errOut.String())
	}
	if errOut.Len() > 0 {
		t.Fatalf("loadtest reported errors: %s", errOut.String())
	}
	if !strings.Contains(out.String(), "6 tills, 3 town(s)") {
		t.Fatalf("output lacks the towns:\n%s", out.String())
	}
	status, body, err := lc.Call(context.Background(), "GET", "/api/v1/towns", nil, map[string]string{"Authorization": "Bearer bench-admin"})
	if err != nil || status != 200 {
		t.Fatalf("GET /api/v1/towns: %d %v %s", status, err, body)
	}
	var towns struct{ Items []struct{ Code string } }
	if err := json.Unmarshal(body, &towns); err != nil {
		t.Fatal(err)
	}
	made := 0
	for _, tw := range towns.Items {
		if strings.HasPrefix(tw.Code, "l") && strings.Contains(tw.Code, "-") {
			made++
		}
	}
	if made != 3 {
		t.Fatalf("%d load towns among %s, want 3", made, body)
	}
}

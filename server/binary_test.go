package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBinary builds the real binary once (go build into a temporary directory) and runs the
// tests that start it as a process and stop it with signals: crash_test.go, shutdown_test.go,
// postgres_instances_test.go.
// Run one with -run TestBinary/CrashSafety.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "citycard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("CrashSafety", func(t *testing.T) { testCrashSafety(t, bin) })
	// PostgreSQL only: one of two instances killed (server/postgres_instances_test.go).
	t.Run("CrashSafetyInstances", func(t *testing.T) { testCrashSafetyInstances(t, bin) })
	t.Run("GracefulShutdown", func(t *testing.T) { testGracefulShutdown(t, bin) })
	t.Run("BodyOverLimit", func(t *testing.T) {
		// serve's own listener closes gracefully: the 413 reaches a client still writing.
		p := startBinary(t, bin, storagetest.DSN(t))
		postOverLimit(t, strings.TrimPrefix(p.base, "http://"), "/api/v1/cards", binAdminToken)
	})
}

// proc is a running citycard serve.
type proc struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	stderr *lockedBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

const binAdminToken = "cca_binary-test-admin-token-0123456789abcdefghij"

// startBinary runs "citycard serve" on db with rate limiting off and waits until it answers
// /healthz.
func startBinary(t *testing.T, bin, db string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "CITYCARD_DB="+db, "CITYCARD_ADDR=127.0.0.1:0", "CITYCARD_RATE_LIMIT=0",
		"CITYCARD_ADMIN_TOKEN="+binAdminToken, "CITYCARD_TZ=Europe/Ljubljana")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (\S+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.exited:
		t.Fatalf("citycard serve exited at start: %v\n%s", p.err, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("citycard serve did not start\n%s", p.stderr.String())
	}
	for i := 0; ; i++ {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if i == 100 {
			t.Fatalf("/healthz does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns how it ended.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("citycard did not exit within %v\n%s", timeout, p.stderr.String())
		return nil
	}
}

// binClient is an HTTP client for a binary, without keep-alive surprises across restarts.
var binClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends a JSON request and decodes a 2xx answer into out.
func (p *proc) call(method, path, secret, body string, hdr map[string]string, out any) (int, error) {
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := binClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: %w", b, err)
		}
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.StatusCode, nil
}

// binFixture is what the binary tests redeem against.
type binFixture struct {
	key    string
	offer  string
	tokens []string
}

// setupBinary creates, over HTTP, a product, n cards, a merchant and an unlimited offer.
func setupBinary(t *testing.T, p *proc, n int) binFixture {
	t.Helper()
	must := func(_ int, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.call("POST", "/api/v1/products", binAdminToken,
		`{"code":"koper-72h","name":{"en":"Koper Card"},"validity_hours":72,"price":"25.00","audience":"tourist"}`, nil, nil))
	var batch struct {
		Cards []cardJSON `json:"cards"`
	}
	must(p.call("POST", "/api/v1/cards/batch", binAdminToken, fmt.Sprintf(`{"product":"koper-72h","count":%d}`, n), nil, &batch))
	var m struct {
		Merchant merchantJSON `json:"merchant"`
		APIKey   string       `json:"api_key"`
	}
	must(p.call("POST", "/api/v1/merchants", binAdminToken, `{"name":"Kavarna Loggia","category":"restaurant"}`, nil, &m))
	var o offerJSON
	must(p.call("POST", "/api/v1/merchants/"+m.Merchant.ID+"/offers", binAdminToken,
		`{"title":{"en":"10% off"},"kind":"percent","value":"10","limit":"unlimited","municipal_share":"50"}`, nil, &o))
	f := binFixture{key: m.APIKey, offer: o.ID}
	for _, c := range batch.Cards {
		f.tokens = append(f.tokens, c.Token)
	}
	return f
}

// allRedemptionIDs lists every redemption id through the admin API.
func (p *proc) allRedemptionIDs(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for cursor := ""; ; {
		var l struct {
			Items      []redemptionJSON `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		if _, err := p.call("GET", "/api/v1/redemptions?limit=500&cursor="+cursor, binAdminToken, "", nil, &l); err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Items {
			ids[r.ID] = true
		}
		if l.NextCursor == "" {
			return ids
		}
		cursor = l.NextCursor
	}
}

// idSet is a set of strings safe for many goroutines.
type idSet struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *idSet) put(k, v string) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[k] = v
	s.mu.Unlock()
}

func (s *idSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Loadtest is "citycard loadtest": it drives a running citycard over HTTP with N concurrent tills and prints, for
// /healthz, the till check and redemption, requests per second, p50 and p99, and each one's
// throughput as a ratio of /healthz measured in the same run. It creates its own product,
// merchant, unlimited offer and cards through the admin API, so point it at a scratch
// database started with CITYCARD_RATE_LIMIT=0.
//
// --url may list several base URLs, comma-separated: instances of the service on one
// (PostgreSQL) database. The setup goes through the first; till i sends its requests to URL
// i mod n, so the load is spread evenly and a till keeps to one instance, as behind a load
// balancer with sticky connections.
func Loadtest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the running service; several, comma-separated, for instances on one database (till i uses URL i mod n)")
	admin := fs.String("admin-token", getenv("CITYCARD_ADMIN_TOKEN"), "admin token (CITYCARD_ADMIN_TOKEN)")
	tills := fs.Int("tills", 64, "concurrent tills")
	dur := fs.Duration("duration", 10*time.Second, "how long each phase runs")
	cards := fs.Int("cards", 1000, "cards to spread redemptions over (in all towns together)")
	towns := fs.Int("towns", 1, "towns to spread the tills over: 1 uses the deployment's own; N > 1 creates N new towns, each with its merchant, offer and cards, and till i redeems in town (i / instances) mod N")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *admin == "" {
		return errors.New("loadtest needs --admin-token or CITYCARD_ADMIN_TOKEN")
	}
	if *tills < 1 || *tills > 4096 || *dur <= 0 || *dur > 10*time.Minute || *cards < 1 || *cards > 100000 || *towns < 1 || *towns > 64 || *towns > *cards {
		return errors.New("loadtest: --tills 1..4096, --duration up to 10m, --cards 1..100000, --towns 1..64 and at most --cards")
	}
	bases, err := loadURLs(*base)
	if err != nil {
		return err
	}
	lt := NewLoadClient(bases, *tills*2)
	setups, err := lt.SetupTowns(ctx, *admin, *cards, *towns)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	var seq atomic.Int64
	// Till w's town: the tills of each instance are spread over every town.
	town := func(w int) LoadSetup { return setups[(w/len(lt.bases))%len(setups)] }
	phases := []struct {
		name string
		req  func(s LoadSetup, i int64) (string, string, []byte, map[string]string)
	}{
		{"healthz", func(LoadSetup, int64) (string, string, []byte, map[string]string) { return "GET", "/healthz", nil, nil }},
		{"till check", func(s LoadSetup, i int64) (string, string, []byte, map[string]string) {
			body, _ := json.Marshal(map[string]string{"card": s.Cards[i%int64(len(s.Cards))]})
			return "POST", "/api/v1/pos/check", body, map[string]string{"Authorization": "Bearer " + s.Key}
		}},
		{"redemption", func(s LoadSetup, i int64) (string, string, []byte, map[string]string) {
			body, _ := json.Marshal(map[string]string{"card": s.Cards[i%int64(len(s.Cards))], "offer_id": s.Offer, "amount": "12.30", "terminal": "load"})
			return "POST", "/api/v1/pos/redemptions", body, map[string]string{"Authorization": "Bearer " + s.Key,
				"Idempotency-Key": s.Run + "-" + strconv.FormatInt(i, 10)}
		}},
	}
	fmt.Fprintf(stdout, "loadtest: %s, %d tills, %d town(s), %s per phase\n", strings.Join(lt.bases, " + "), *tills, len(setups), *dur)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\terrors\treq/s\tp50 ms\tp99 ms\tvs healthz\t")
	var floor float64
	for _, ph := range phases {
		res := lt.phase(ctx, *tills, *dur, func(w int) (string, string, []byte, map[string]string) { return ph.req(town(w), seq.Add(1)) })
		if ph.name == "healthz" {
			floor = res.rps
		}
		ratio := "-"
		if floor > 0 {
			ratio = fmt.Sprintf("%.0f %%", 100*res.rps/floor)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%s\t\n", ph.name, res.n, res.errors, res.rps, ms(res.p50), ms(res.p99), ratio)
		if res.firstErr != "" {
			fmt.Fprintf(stderr, "%s: first error: %s\n", ph.name, res.firstErr)
		}
	}
	return tw.Flush()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadURLs splits --url's comma-separated list into base URLs without a trailing slash, each
// an http or https URL with a host.
func loadURLs(list string) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimRight(strings.TrimSpace(raw), "/")
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("loadtest: --url %q: want http://host:port, or several separated by commas", raw)
		}
		out = append(out, raw)
	}
	return out, nil
}

// NewLoadClient is a client of the service's instances at bases (URLs without a trailing
// slash) keeping up to conns connections open: one per till and some to spare.
func NewLoadClient(bases []string, conns int) *LoadClient {
	return &LoadClient{bases: bases, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
	}}
}

// LoadClient sends requests to the service's instances: the setup and Call to the first,
// a phase's till i to bases[i mod n].
type LoadClient struct {
	bases []string
	http  *http.Client
}

// LoadSetup is what Setup made: a merchant's API key (Key), its unlimited offer (Offer), the
// run's id (Run, unique per setup, for idempotency keys) and the cards' tokens.
type LoadSetup struct {
	Key, Offer, Run string
	Cards           []string
}

// Call sends one request to the first instance with a JSON body and the headers hdr, and
// returns the status and body of the answer, or the error of a request that got none.
func (l *LoadClient) Call(ctx context.Context, method, path string, body []byte, hdr map[string]string) (int, []byte, error) {
	return l.callAt(ctx, l.bases[0], method, path, body, hdr)
}

func (l *LoadClient) callAt(ctx context.Context, base, method, path string, body []byte, hdr map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Setup creates, with the admin token admin, the product, merchant, unlimited offer and n
// cards the phases use, in the deployment's only town; an error is the first request that did
// not answer as expected.
func (l *LoadClient) Setup(ctx context.Context, admin string, n int) (LoadSetup, error) {
	return l.setupIn(ctx, admin, n, strconv.FormatInt(time.Now().UnixNano(), 36), "")
}

// SetupTowns is Setup for towns towns: 1 is Setup; more creates that many new towns and sets
// up each with its own product, merchant, offer and n/towns cards (at least one).
func (l *LoadClient) SetupTowns(ctx context.Context, admin string, n, towns int) ([]LoadSetup, error) {
	if towns <= 1 {
		s, err := l.Setup(ctx, admin, n)
		return []LoadSetup{s}, err
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	auth := map[string]string{"Authorization": "Bearer " + admin}
	var out []LoadSetup
	for i := range towns {
		code := fmt.Sprintf("l%s-%d", run, i)
		body, _ := json.Marshal(map[string]any{"code": code, "name": map[string]string{"en": "Load " + code},
			"timezone": "Europe/Ljubljana", "languages": []string{"en"}})
		status, b, err := l.Call(ctx, "POST", "/api/v1/towns", body, auth)
		if err != nil {
			return out, err
		}
		if status != 201 {
			return out, fmt.Errorf("POST /api/v1/towns: %d %s", status, b)
		}
		s, err := l.setupIn(ctx, admin, max(1, n/towns), run+"-"+strconv.Itoa(i), code)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// setupIn is Setup in town (the deployment's only one if ""), named after run.
func (l *LoadClient) setupIn(ctx context.Context, admin string, n int, run, town string) (LoadSetup, error) {
	auth := map[string]string{"Authorization": "Bearer " + admin}
	if town != "" {
		auth["Citycard-Town"] = town
	}
	post := func(path string, v any, want int, out any) error {
		body, _ := json.Marshal(v)
		status, b, err := l.Call(ctx, "POST", path, body, auth)
		if err != nil {
			return err
		}
		if status != want {
			return fmt.Errorf("POST %s: %d %s", path, status, b)
		}
		return json.Unmarshal(b, out)
	}
	var s LoadSetup
	s.Run = run
	product := "load-" + run
	if err := post("/api/v1/products", map[string]any{"code": product, "name": map[string]string{"en": "Load test"},
		"validity_days": 3660, "price": "0", "audience": "tourist"}, 201, &struct{}{}); err != nil {
		return s, err
	}
	var m struct {
		Merchant struct{ ID string } `json:"merchant"`
		APIKey   string              `json:"api_key"`
	}
	if err := post("/api/v1/merchants", map[string]any{"name": "Load " + run, "category": "shop"}, 201, &m); err != nil {
		return s, err
	}
	s.Key = m.APIKey
	var o struct{ ID string }
	if err := post("/api/v1/merchants/"+m.Merchant.ID+"/offers", map[string]any{"title": map[string]string{"en": "10 %"},
		"kind": "percent", "value": "10", "limit": "unlimited", "municipal_share": "50"}, 201, &o); err != nil {
		return s, err
	}
	s.Offer = o.ID
	for len(s.Cards) < n {
		var batch struct{ Cards []struct{ Token string } }
		if err := post("/api/v1/cards/batch", map[string]any{"product": product, "count": min(1000, n-len(s.Cards))}, 201, &batch); err != nil {
			return s, err
		}
		for _, c := range batch.Cards {
			s.Cards = append(s.Cards, c.Token)
		}
	}
	return s, nil
}

type phaseResult struct {
	n, errors int
	rps       float64
	p50, p99  time.Duration
	firstErr  string
}

// phase runs tills workers sending next() requests back to back for d, worker i to
// instance i mod n.
func (l *LoadClient) phase(ctx context.Context, tills int, d time.Duration, next func(w int) (string, string, []byte, map[string]string)) phaseResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var res phaseResult
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < tills; w++ {
		wg.Add(1)
		base := l.bases[w%len(l.bases)]
		go func(w int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			errs, first := 0, ""
			for ctx.Err() == nil {
				method, path, body, hdr := next(w)
				t0 := time.Now()
				status, b, err := l.callAt(context.Background(), base, method, path, body, hdr)
				if ctx.Err() != nil && err != nil {
					break
				}
				local = append(local, time.Since(t0))
				if err != nil || status >= 300 {
					errs++
					if first == "" {
						first = fmt.Sprintf("%d %v %.200s", status, err, b)
					}
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			res.errors += errs
			if res.firstErr == "" {
				res.firstErr = first
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.n = len(lat)
	if res.n > 0 {
		res.rps = float64(res.n) / elapsed.Seconds()
		res.p50, res.p99 = lat[res.n*50/100], lat[min(res.n-1, res.n*99/100)]
	}
	return res
}

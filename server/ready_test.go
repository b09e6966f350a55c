package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// /readyz fails with 503 not_ready when the database cannot take writes, while /healthz (the
// process answers) stays 200; the probe runs at most once a second however often it is asked.
func TestReadyz(t *testing.T) {
	ts := newTestServer(t)
	var body map[string]string
	ts.must(200, "GET", "/readyz", "", nil, &body)
	if body["status"] != "ready" {
		t.Fatalf("readyz %v", body)
	}
	now := time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)
	probes := 0
	ts.s.ready = &readiness{now: func() time.Time { return now }, probe: func(context.Context) error {
		probes++
		return errors.New("disk I/O error: no space left on device")
	}}
	for i := 0; i < 10; i++ {
		resp := ts.do("GET", "/readyz", "", nil)
		wantError(t, resp, 503, "not_ready")
		if strings.Contains(string(resp.body), "space") {
			t.Fatalf("the cause reached the client: %s", resp.body)
		}
	}
	if probes != 1 {
		t.Fatalf("%d probes for 10 requests within a second, want 1", probes)
	}
	ts.must(200, "GET", "/healthz", "", nil, nil)
	now = now.Add(time.Second)
	ts.do("GET", "/readyz", "", nil)
	if probes != 2 {
		t.Fatalf("%d probes after a second, want 2", probes)
	}

	// The real probe, on a database that no longer takes writes.
	ts.s.ready = &readiness{probe: ts.db.CheckWritable, now: time.Now}
	ts.must(200, "GET", "/readyz", "", nil, nil)
	ts.db.Close()
	ts.s.ready.at = time.Time{}
	wantError(t, ts.do("GET", "/readyz", "", nil), 503, "not_ready")
}

// citycard healthcheck --ready asks /readyz: it fails when the service cannot take writes.
func TestHealthcheckReady(t *testing.T) {
	e := newSecEnv(t, 0)
	addr := strings.TrimPrefix(e.listen(), "http://")
	check := func(args ...string) error {
		return run(context.Background(), append([]string{"healthcheck", "--addr", addr}, args...), func(string) string { return "" }, io.Discard, io.Discard)
	}
	if err := check("--ready"); err != nil {
		t.Fatalf("healthcheck --ready on a ready service: %v", err)
	}
	e.s.ready = &readiness{now: time.Now, probe: func(context.Context) error { return errors.New("read-only file") }}
	if err := check("--ready"); err == nil {
		t.Fatal("healthcheck --ready passed on a service that cannot take writes")
	}
	if err := check(); err != nil {
		t.Fatalf("healthcheck (liveness) on a live service: %v", err)
	}
}

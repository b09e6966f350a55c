package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The server always makes its own request id (response X-Request-ID, logs, the audit's
// request_id); a client's X-Request-ID is kept apart, cleaned and cut, as client_request_id.
// The client's id used to become the audited request_id.
func TestClientRequestIDKeptApart(t *testing.T) {
	e := newSecEnv(t, 0)
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	var serverIDs []string
	for _, client := range []string{"till-7-0001", "till-7-0001", "", "å" + strings.Repeat("r", 300)} {
		h := map[string]string{}
		if client != "" {
			h["X-Request-ID"] = client
		}
		resp, body := e.do(secReq{method: "POST", path: "/api/v1/cards/" + e.card.ID + "/block", secret: e.admin, body: `{"reason":"lost"}`, header: h})
		if resp.StatusCode != 200 {
			t.Fatalf("block: %d %s", resp.StatusCode, body)
		}
		id := resp.Header.Get("X-Request-ID")
		if !uuid.MatchString(id) {
			t.Fatalf("response X-Request-ID %q (client sent %q), want the server's own UUID", id, client)
		}
		serverIDs = append(serverIDs, id)
	}
	if serverIDs[0] == serverIDs[1] {
		t.Fatal("two requests with the same client id got the same server id")
	}
	_, body := e.do(secReq{method: "GET", path: "/api/v1/audit?action=card.block", secret: e.admin})
	var list listBody[map[string]any]
	if err := json.Unmarshal(body, &list); err != nil || len(list.Items) != 4 {
		t.Fatalf("audit: %s", body)
	}
	want := []string{strings.Repeat("r", 64), "", "till-7-0001", "till-7-0001"} // newest first
	for i, it := range list.Items {
		if it["request_id"] != serverIDs[3-i] {
			t.Errorf("entry %d: request_id %v, want the server's %s", i, it["request_id"], serverIDs[3-i])
		}
		if it["client_request_id"] != want[i] {
			t.Errorf("entry %d: client_request_id %v, want %q", i, it["client_request_id"], want[i])
		}
	}
}

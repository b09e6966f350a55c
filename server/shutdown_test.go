package main

import (
	"bufio"
	"fmt"
	"github.com/citycard/citycard/storage/storagetest"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testGracefulShutdown: on SIGTERM the service stops accepting connections, finishes the request in flight and
// answers it, then closes the database cleanly: the WAL is checkpointed into the file and
// removed, and the file passes integrity_check.
func testGracefulShutdown(t *testing.T, bin string) {
	dbPath := storagetest.DSN(t)
	p := startBinary(t, bin, dbPath)
	f := setupBinary(t, p, 1)
	addr := strings.TrimPrefix(p.base, "http://")

	// A till's redemption, in flight: its headers and half its body are sent before SIGTERM.
	body := secRedeemBody(f.tokens[0], f.offer, "23.50")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /api/v1/pos/redemptions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nIdempotency-Key: in-flight\r\nContent-Length: %d\r\n\r\n", addr, f.key, len(body))
	half := len(body) / 2
	if _, err := conn.Write([]byte(head + body[:half])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server has read the headers: the request is in flight
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// New connections are refused once the listener is closed.
	refused := false
	for i := 0; i < 100 && !refused; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if !refused {
		t.Fatal("new connections are still accepted 2 s after SIGTERM")
	}
	select {
	case <-p.exited:
		t.Fatalf("the service exited with a request in flight: %v", p.err)
	default:
	}

	// The request in flight is finished and answered.
	if _, err := conn.Write([]byte(body[half:])); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the request in flight: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("the request in flight got %d, want 201", resp.StatusCode)
	}

	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	if fi, err := os.Stat(dbPath + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("%d bytes left in the WAL after a clean shutdown", fi.Size())
	}
	integrityOK(t, dbPath)
	db, err := storagetest.SQLOpen(t, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM redemptions WHERE amount_cents = 2350`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the answered redemption is stored %d times (%v), want once", n, err)
	}
}

package tools

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCopyProgress: plain lines in a file or pipe, a bar redrawn with \r on a terminal.
func TestCopyProgress(t *testing.T) {
	var plain bytes.Buffer
	p := newCopyProgress(&plain)
	p.update("towns", 0, 2)
	p.update("towns", 2, 2)
	p.update("cards", 0, 0)
	p.finish()
	if got := plain.String(); !strings.Contains(got, "  towns: 2 rows, ") || !strings.Contains(got, "  cards: 0 rows, ") || strings.Contains(got, "\r") {
		t.Errorf("plain progress:\n%q", got)
	}
	var term bytes.Buffer
	p = &copyProgress{w: &term, terminal: true}
	p.update("redemptions", 0, 10)
	p.update("redemptions", 10, 10)
	p.finish()
	if got := term.String(); !strings.Contains(got, "\r  redemptions          [##############################] 10/10 rows") {
		t.Errorf("terminal progress:\n%q", got)
	}
	if got := bar(1, 4, 8); got != "[##......]" {
		t.Errorf("bar(1, 4, 8) = %s", got)
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a file is taken for a terminal")
	}
}

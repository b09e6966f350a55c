package card

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CleanText is the one rule for a free text a client sends (a name, title, address, holder,
// reason, terminal): it returns s without leading and trailing white space, which is what must
// be stored, because that is what was checked. The error, wrapping ErrInvalidInput and naming
// field, says why the trimmed text is refused: empty when required, longer than max characters
// (runes, not bytes), not UTF-8, or holding a control character (see IsControl). A control
// character in a name could hide or reorder what a clerk reads, break a CSV row, or slip a
// formula past a spreadsheet's guard.
func CleanText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", fmt.Errorf("%w: %s is required (1 to %d characters)", ErrInvalidInput, field, max)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidInput, field)
	}
	n := 0
	for _, r := range s {
		if IsControl(r) {
			return "", fmt.Errorf("%w: %s must not contain control characters (found U+%04X)", ErrInvalidInput, field, r)
		}
		n++
	}
	if n > max {
		return "", fmt.Errorf("%w: %s must be at most %d characters", ErrInvalidInput, field, max)
	}
	return s, nil
}

// IsControl says whether r is refused in a text: the C0 and C1 controls and DEL, the line
// and paragraph separators, and the bidirectional embeddings, overrides and isolates
// (U+202A–U+202E, U+2066–U+2069), which can make a text read differently from what it is.
func IsControl(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

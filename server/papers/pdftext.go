package papers

import (
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text reaches a PDF only through pdfClean: the embedded font covers part of the Basic
// Multilingual Plane, and fpdf has no answer for a character it lacks (a non-BMP character
// such as an emoji made every PDF of its month a 500). pdfClean prints a replacement instead,
// and caps how much of a text is printed, so a 250,000-character void reason costs what 300
// characters cost.

// pdfMaxCell is the most characters a table cell or line prints; longer text ends in "…".
const pdfMaxCell = 300

// glyphSet is the set of BMP characters a font has a glyph for.
type glyphSet [65536 / 64]uint64

func (g *glyphSet) has(r rune) bool { return r >= 0 && r < 65536 && g[r/64]&(1<<(r%64)) != 0 }

// pdfGlyphs is what both embedded fonts (regular and bold) can show.
var pdfGlyphs = func() *glyphSet {
	reg, bold := fontGlyphs(fontRegular), fontGlyphs(fontBold)
	for i := range reg {
		reg[i] &= bold[i]
	}
	return reg
}()

// Replacement is what every PDF paper prints for a character its font cannot show: U+FFFD if
// the font has it, else "?".
var Replacement = func() rune {
	if pdfGlyphs.has('\uFFFD') {
		return '\uFFFD'
	}
	return '?'
}()

// fontGlyphs reads a TrueType font's Unicode BMP character map (cmap format 4). A font it
// cannot read gives the printable ASCII range, which every font has.
func fontGlyphs(ttf []byte) *glyphSet {
	g := new(glyphSet)
	for r := rune(0x20); r < 0x7f; r++ {
		g[r/64] |= 1 << (r % 64)
	}
	u16 := func(off int) int {
		if off < 0 || off+2 > len(ttf) {
			return 0
		}
		return int(binary.BigEndian.Uint16(ttf[off:]))
	}
	u32 := func(off int) int {
		if off < 0 || off+4 > len(ttf) {
			return 0
		}
		return int(binary.BigEndian.Uint32(ttf[off:]))
	}
	cmap := 0
	for i := 0; i < u16(4); i++ {
		rec := 12 + 16*i
		if rec+16 <= len(ttf) && string(ttf[rec:rec+4]) == "cmap" {
			cmap = u32(rec + 8)
		}
	}
	if cmap == 0 {
		return g
	}
	sub := 0
	for i := 0; i < u16(cmap+2); i++ {
		rec := cmap + 4 + 8*i
		platform, encoding := u16(rec), u16(rec+2)
		if (platform == 3 && encoding == 1) || (platform == 0 && encoding <= 3) {
			if off := cmap + u32(rec+4); u16(off) == 4 {
				sub = off
				break
			}
		}
	}
	if sub == 0 {
		return g
	}
	segs := u16(sub+6) / 2
	ends, starts := sub+14, sub+16+2*segs
	deltas, ranges := starts+2*segs, starts+4*segs
	for i := 0; i < segs; i++ {
		start, end := u16(starts+2*i), u16(ends+2*i)
		delta, rangeOff := u16(deltas+2*i), u16(ranges+2*i)
		for c := start; c <= end && c < 0xffff; c++ {
			glyph := 0
			if rangeOff == 0 {
				glyph = (c + delta) & 0xffff
			} else if v := u16(ranges + 2*i + rangeOff + 2*(c-start)); v != 0 {
				glyph = (v + delta) & 0xffff
			}
			if glyph != 0 {
				g[c/64] |= 1 << (c % 64)
			}
		}
	}
	return g
}

// pdfClean returns s as the PDF prints it: control characters (line breaks, tabs, NUL) as
// spaces, characters the font cannot show as Replacement, and at most max characters,
// the last of them "…" when s is longer. It reads at most max+1 characters of s.
func pdfClean(s string, max int) string {
	if max < 1 {
		return ""
	}
	var b strings.Builder
	n := 0
	for i, r := range s {
		if n == max {
			if i < len(s) {
				// Replace the last character by the ellipsis: the text is cut.
				out := []rune(b.String())
				return string(out[:len(out)-1]) + "…"
			}
			break
		}
		switch {
		case r == utf8.RuneError && !pdfGlyphs.has(r):
			r = Replacement
		case unicode.IsControl(r):
			r = ' '
		case !pdfGlyphs.has(r):
			r = Replacement
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// The methods below shadow fpdf's own, so every text a pdfDoc prints or measures is cleaned
// first: no caller can forget it.

// CellFormat is fpdf's CellFormat of the cleaned text.
func (d *pdfDoc) CellFormat(w, h float64, txt, border string, ln int, align string, fill bool, link int, linkStr string) {
	d.Fpdf.CellFormat(w, h, pdfClean(txt, pdfMaxCell), border, ln, align, fill, link, linkStr)
}

// MultiCell is fpdf's MultiCell of the cleaned text (at most 2,000 characters).
func (d *pdfDoc) MultiCell(w, h float64, txt, border, align string, fill bool) {
	d.Fpdf.MultiCell(w, h, pdfClean(txt, 2000), border, align, fill)
}

// Text is fpdf's Text of the cleaned text.
func (d *pdfDoc) Text(x, y float64, txt string) { d.Fpdf.Text(x, y, pdfClean(txt, pdfMaxCell)) }

// GetStringWidth is fpdf's GetStringWidth of the cleaned text.
func (d *pdfDoc) GetStringWidth(s string) float64 {
	return d.Fpdf.GetStringWidth(pdfClean(s, pdfMaxCell))
}

// runeWidths are the printed widths of the characters of s (already cleaned), in mm, in the
// current font. fpdf has no kerning, so a text's width is the sum of its characters'.
func (d *pdfDoc) runeWidths(s string) ([]rune, []float64) {
	rs := []rune(s)
	ws := make([]float64, len(rs))
	for i, r := range rs {
		ws[i] = d.Fpdf.GetStringWidth(string(r))
	}
	return rs, ws
}

// fit shortens s with an ellipsis to fit w millimetres in the current font. Linear in the
// (capped) length of s: each character is measured once.
func (d *pdfDoc) fit(s string, w float64) string {
	s = pdfClean(s, pdfMaxCell)
	rs, ws := d.runeWidths(s)
	total := 0.0
	for _, x := range ws {
		total += x
	}
	if total <= w {
		return s
	}
	room := w - d.Fpdf.GetStringWidth("…")
	used, n := 0.0, 0
	for n < len(rs) && used+ws[n] <= room {
		used += ws[n]
		n++
	}
	return strings.TrimRight(string(rs[:n]), " ") + "…"
}

// wrap breaks s into lines of at most w millimetres in the current font, at spaces where it
// can and inside a word longer than a line, into at most maxLines lines (the last ending in
// "…" if s is longer). Linear in the (capped) length of s.
func (d *pdfDoc) wrap(s string, w float64, maxLines int) []string {
	s = pdfClean(s, pdfMaxCell)
	rs, ws := d.runeWidths(s)
	var lines []string
	start := 0
	for start < len(rs) && len(lines) < maxLines {
		for start < len(rs) && rs[start] == ' ' {
			start++
		}
		used, end, lastSpace := 0.0, start, -1
		for end < len(rs) && used+ws[end] <= w {
			if rs[end] == ' ' {
				lastSpace = end
			}
			used += ws[end]
			end++
		}
		if end < len(rs) && lastSpace > start && rs[end] != ' ' {
			end = lastSpace // break at the last space rather than inside a word
		}
		if end == start && end < len(rs) {
			end++ // a character wider than the line: print it anyway
		}
		lines = append(lines, strings.TrimRight(string(rs[start:end]), " "))
		start = end
	}
	for start < len(rs) && rs[start] == ' ' {
		start++
	}
	if start < len(rs) && len(lines) > 0 {
		last := lines[len(lines)-1] + " " + string(rs[start:])
		lines[len(lines)-1] = d.fit(last, w)
	}
	if len(lines) == 0 {
		lines = []string{""}
	}
	return lines
}

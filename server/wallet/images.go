package wallet

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
)

var imageCache sync.Map // colour → map[string][]byte

// images are the pass's icon (on the lock screen and in notifications: the town's colour with
// a white ring) and logo (on the pass, whose background is the town's colour: a white ring
// on nothing), drawn here rather than shipped so each town's pass carries its own colour.
func images(hexColor string) map[string][]byte {
	if v, ok := imageCache.Load(hexColor); ok {
		return v.(map[string][]byte)
	}
	c := parseColor(hexColor)
	white := color.RGBA{255, 255, 255, 255}
	out := map[string][]byte{
		"icon.png":    ring(29, 29, c, white),
		"icon@2x.png": ring(58, 58, c, white),
		"logo.png":    ring(50, 50, color.RGBA{}, white),
		"logo@2x.png": ring(100, 100, color.RGBA{}, white),
	}
	imageCache.Store(hexColor, out)
	return out
}

// ring draws a w×h image of bg with a ring of fg in its middle.
func ring(w, h int, bg, fg color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := float64(min(w, h)) / 2
	for y := range h {
		for x := range w {
			dx, dy := float64(x)+0.5-float64(w)/2, float64(y)+0.5-float64(h)/2
			d := dx*dx + dy*dy
			if d <= (r*0.8)*(r*0.8) && d >= (r*0.5)*(r*0.5) {
				img.SetRGBA(x, y, fg)
			} else {
				img.SetRGBA(x, y, bg)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory RGBA image does not fail
	}
	return buf.Bytes()
}

func parseColor(hexColor string) color.RGBA {
	var r, g, b uint8
	if _, err := fmt.Sscanf(strings.TrimPrefix(hexColor, "#"), "%02x%02x%02x", &r, &g, &b); err != nil {
		return color.RGBA{0x0b, 0x5c, 0xad, 255}
	}
	return color.RGBA{r, g, b, 255}
}

package serve

import (
	"strconv"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// The charts' geometry, in SVG user units, drawn as inline SVG by the
// templates. Floats are for the eye only: no amount is computed from
// them, and the exact numbers are printed beside every chart.

const (
	chartWidth  = 640.0
	chartHeight = 160.0
	barHeight   = 28.0
)

// Rect is a bar of a chart; Title is its tooltip (the exact value).
type Rect struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

// stackedBar lays the parts side by side on one bar, each as wide as its
// share of their total.
func stackedBar(parts []Part, width, height float64) []Rect {
	var total int64
	for _, p := range parts {
		total += max(p.E8s, 0)
	}
	if total == 0 {
		return nil
	}
	var rects []Rect
	x := 0.0
	for _, p := range parts {
		if p.E8s <= 0 {
			continue
		}
		w := width * float64(p.E8s) / float64(total)
		rects = append(rects, Rect{X: x, Y: 0, W: w, H: height, Class: p.Class, Title: p.Name + ": " + money.FormatICP(money.E8s(p.E8s)) + " ICP"})
		x += w
	}
	return rects
}

// histogramBars draws one bar per bin, as tall as its count is of the
// largest count.
func histogramBars(bins []Bin, width, height float64) []Rect {
	most := 0
	for _, b := range bins {
		most = max(most, b.Count)
	}
	if most == 0 {
		return nil
	}
	slot := width / float64(len(bins))
	rects := make([]Rect, 0, len(bins))
	for i, b := range bins {
		h := height * float64(b.Count) / float64(most)
		rects = append(rects, Rect{X: float64(i)*slot + 1, Y: height - h, W: slot - 2, H: h, Class: "bin",
			Title: strconv.Itoa(b.Count) + " sponsors: " + money.FormatICP(money.E8s(b.FromE8s)) + " to " + money.FormatICP(money.E8s(b.ToE8s)) + " ICP"})
	}
	return rects
}

// balanceLine is the polyline of the balance after each block, the
// blocks evenly spaced in index order (a month's mint and its payouts are
// seconds apart: spaced by time they would stand on one line).
func balanceLine(points []Point, maxE8s int64, width, height float64) string {
	if len(points) == 0 || maxE8s <= 0 {
		return ""
	}
	step := 0.0
	if len(points) > 1 {
		step = width / float64(len(points)-1)
	}
	var b strings.Builder
	for i, p := range points {
		y := height - height*float64(max(p.BalanceE8s, 0))/float64(maxE8s)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(float64(i)*step, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64))
	}
	return b.String()
}

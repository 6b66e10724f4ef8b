package reports

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestFmtCountExtremes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{math.MinInt64, "-9,223,372,036,854,775,808"},
		{math.MaxInt64, "9,223,372,036,854,775,807"},
		{-1, "-1"}, {-999, "-999"}, {-1000, "-1,000"}, {-100000, "-100,000"},
		{100000, "100,000"}, {1000000, "1,000,000"},
	} {
		if got := fmtCount(c.n); got != c.want {
			t.Errorf("fmtCount(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	for _, v := range []float64{1e19, -1e19, math.MaxFloat64, -math.MaxFloat64, 9.3e18} {
		if got := fmtNumber(v); got == "" || strings.Contains(got, "9,223,372") {
			t.Errorf("fmtNumber(%g) = %q", v, got)
		}
		if got := fmtRate(v); got == "" || strings.Contains(got, "9,223,372") {
			t.Errorf("fmtRate(%g) = %q", v, got)
		}
	}
}

// FuzzFmtCount checks fmtCount against strconv on every int64: the digits
// are the same once the separators are removed, and groups have 3 digits.
func FuzzFmtCount(f *testing.F) {
	for _, n := range []int64{0, -1, 999, -1000, math.MinInt64, math.MaxInt64} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		got := fmtCount(n)
		if strings.ReplaceAll(got, ",", "") != strconv.FormatInt(n, 10) {
			t.Fatalf("fmtCount(%d) = %q", n, got)
		}
		parts := strings.Split(strings.TrimPrefix(got, "-"), ",")
		for i, p := range parts {
			if len(p) > 3 || i > 0 && len(p) != 3 || p == "" {
				t.Fatalf("fmtCount(%d) = %q: bad group %q", n, got, p)
			}
		}
		_ = fmtNumber(float64(n))
		_ = fmtRate(float64(n))
		_ = fmtBytes(n)
	})
}

package reports

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestFmtMicros(t *testing.T) {
	t.Parallel()
	tests := []struct {
		us   float64
		want string
	}{
		{0, "0µs"},
		{1, "1µs"},
		{45, "45µs"},
		{45.26, "45.3µs"},
		{999, "999µs"},
		{999.7, "1ms"},
		{1234, "1.23ms"},
		{12345, "12.3ms"},
		{123456, "123ms"},
		{999999, "1s"},
		{2100000, "2.1s"},
		{59_990_000, "1m00s"},
		{90_000_000, "1m30s"},
		{3_600_000_000, "1h00m"},
		{-1500, "-1.5ms"},
		{math.NaN(), "—"},
	}
	for _, tc := range tests {
		if got := fmtMicros(tc.us); got != tc.want {
			t.Errorf("fmtMicros(%v) = %q, want %q", tc.us, got, tc.want)
		}
	}
}

func TestFmtOthers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{fmtCount(0), "0"},
		{fmtCount(999), "999"},
		{fmtCount(1000), "1,000"},
		{fmtCount(1234567), "1,234,567"},
		{fmtCount(-1234), "-1,234"},
		{fmtNumber(12.5), "12.5"},
		{fmtNumber(43100), "43,100"},
		{fmtNumber(1234.5), "1,235"},
		{fmtRate(1973.4), "1,973/s"},
		{fmtRate(12.54), "12.5/s"},
		{fmtRate(0), "0/s"},
		{fmtPercent(0.0021), "0.21%"},
		{fmtPercent(0), "0%"},
		{fmtPercent(1), "100%"},
		{fmtPercent(0.0000123), "0.00123%"},
		{fmtBytes(512), "512 B"},
		{fmtBytes(12_345_678), "12.3 MB"},
		{fmtDuration(0), "—"},
		{fmtDuration(850 * time.Millisecond), "850ms"},
		{fmtDuration(2500 * time.Millisecond), "2.5s"},
		{fmtDuration(30 * time.Second), "30s"},
		{fmtDuration(90 * time.Second), "1m30s"},
		{fmtDuration(2*time.Hour + 5*time.Minute), "2h05m"},
		{fmtTime(time.Time{}), "—"},
		{fmtTime(time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("X", 3600))), "2026-03-14 08:26:53 UTC"},
		{orDash("  "), "—"},
		{sig3(0.001234), "0.00123"},
		{sig3(1234), "1234"},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("case %d: %q, want %q", i, tc.got, tc.want)
		}
	}
}

func TestTableMarkdown(t *testing.T) {
	t.Parallel()
	tb := newTable("name", "value")
	tb.add("a|b", "1")
	tb.add("`x`", "22")
	var b strings.Builder
	if err := tb.markdown(&b); err != nil {
		t.Fatal(err)
	}
	want := "| name  | value |\n" +
		"| ----- | ----: |\n" +
		"| a\\|b  |     1 |\n" +
		"| \\`x\\` |    22 |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for in, want := range map[string]string{"a": "`a`", "a`b": "``a`b``", "`a": "`` `a ``", "a|b": "`a\\|b`"} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
}

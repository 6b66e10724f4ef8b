package reports

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// dash stands for a value the result does not hold.
const dash = "—"

// sig3 formats v with three significant digits, without an exponent and
// without trailing zeros: 1234 → "1234", 12.34 → "12.3", 0.001234 →
// "0.00123".
func sig3(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		if v == 0 {
			return "0"
		}
		return dash
	}
	digits := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	if digits < 0 {
		digits = 0
	}
	return trimZeros(strconv.FormatFloat(v, 'f', digits, 64))
}

// trimZeros removes trailing zeros after a decimal point, and the point.
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// round3 rounds v to three significant digits.
func round3(v float64) float64 {
	if v == 0 {
		return 0
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return f
}

// fmtMicros humanises a latency in microseconds with three significant
// digits: 45µs, 1.23ms, 12.3ms, 2.1s, 1m30s.
func fmtMicros(us float64) string {
	if math.IsNaN(us) || math.IsInf(us, 0) {
		return dash
	}
	if us < 0 {
		return "-" + fmtMicros(-us)
	}
	r := round3(us)
	switch {
	case r < 1e3:
		return sig3(r) + "µs"
	case r < 1e6:
		return sig3(r/1e3) + "ms"
	case r < 60e6:
		return sig3(r/1e6) + "s"
	}
	return fmtLong(time.Duration(us * float64(time.Microsecond)))
}

// fmtLong formats a duration of a minute or more as 1m30s or 2h05m.
func fmtLong(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s < 3600 {
		return strconv.FormatInt(s/60, 10) + "m" + pad2(s%60) + "s"
	}
	m := int64(d.Round(time.Minute) / time.Minute)
	return strconv.FormatInt(m/60, 10) + "h" + pad2(m%60) + "m"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// fmtDuration humanises a run duration: 850ms, 30s, 12.5s, 1m30s, 2h05m.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return dash
	case d < 10*time.Second:
		return fmtMicros(float64(d) / float64(time.Microsecond))
	case d < time.Minute:
		return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + "s"
	}
	return fmtLong(d)
}

// fmtCount formats an integer with thousands separators: 1,234,567. It
// works on the decimal digits of n, so every int64 renders, negative ones
// and math.MinInt64 (whose negation overflows) included, without recursion.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	if len(s) <= 3 {
		return sign + s
	}
	var b strings.Builder
	b.Grow(len(sign) + len(s) + len(s)/3)
	b.WriteString(sign)
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// fmtNumber formats a float that is usually a count: integers get
// separators, fractions three significant digits.
func fmtNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dash
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmtCount(int64(v))
	}
	if math.Abs(v) >= 9e18 {
		// Beyond int64: converting would give an arbitrary value.
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	if math.Abs(v) >= 1000 {
		return fmtCount(int64(math.Round(v)))
	}
	return sig3(v)
}

// fmtRate formats a per-second rate: 1,973/s, 12.5/s.
func fmtRate(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return dash
	}
	if math.Abs(r) >= 9e18 {
		return strconv.FormatFloat(r, 'g', 3, 64) + "/s"
	}
	if r >= 100 {
		return fmtCount(int64(math.Round(r))) + "/s"
	}
	return sig3(r) + "/s"
}

// fmtPercent formats a ratio as a percentage: 0.0021 → "0.21%".
func fmtPercent(ratio float64) string {
	if math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return dash
	}
	return sig3(ratio*100) + "%"
}

// fmtBytes formats a byte count with SI units: 12.3 MB.
func fmtBytes(n int64) string {
	v := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if math.Abs(v) < 1000 || u == "TB" {
			if u == "B" {
				return strconv.FormatInt(n, 10) + " B"
			}
			return sig3(v) + " " + u
		}
		v /= 1000
	}
	return dash
}

// fmtTime formats an instant in UTC, or "—" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return dash
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

// orDash returns s, or "—" when s is empty.
func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return dash
	}
	return s
}

// runDuration returns the measured length of a run (0 when unknown).
func runDuration(startedAt, endedAt time.Time) time.Duration {
	if startedAt.IsZero() || endedAt.IsZero() || !endedAt.After(startedAt) {
		return 0
	}
	return endedAt.Sub(startedAt)
}

// timeOrEmpty formats an instant as RFC 3339 in UTC, or "" for the zero
// time.
func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

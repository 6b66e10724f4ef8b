package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N events per Per, written "500/s", "30/m", "2/h" or "1/10s".
// The zero Rate means no rate was given.
type Rate struct {
	N   int
	Per time.Duration
}

// IsZero reports whether r is the zero Rate.
func (r Rate) IsZero() bool { return r.N == 0 || r.Per == 0 }

// Interval returns the time between two events (Per / N), or 0 for the zero Rate.
func (r Rate) Interval() time.Duration {
	if r.IsZero() {
		return 0
	}
	return r.Per / time.Duration(r.N)
}

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 {
	if r.IsZero() {
		return 0
	}
	return float64(r.N) / r.Per.Seconds()
}

// String formats r as it is written in a scenario.
func (r Rate) String() string {
	if r.IsZero() {
		return "0"
	}
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.N)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// ParseRate parses "N/unit" where N is a positive integer and unit is s, m,
// h or a Go duration ("1/10s" is one event every ten seconds).
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q is not a rate (want N/s, N/m, N/h or N/<duration>, e.g. 500/s)", s)
	}
	num, unit = strings.TrimSpace(num), strings.TrimSpace(unit)
	n, err := strconv.Atoi(num)
	if err != nil {
		if _, ferr := strconv.ParseFloat(num, 64); ferr == nil {
			return Rate{}, fmt.Errorf("%q is not a rate: the count must be a whole number (write 1/2s for 0.5/s)", s)
		}
		return Rate{}, fmt.Errorf("%q is not a rate: %q is not a whole number", s, num)
	}
	if n <= 0 {
		return Rate{}, fmt.Errorf("%q is not a rate: the count must be at least 1", s)
	}
	var per time.Duration
	switch unit {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		d, err := time.ParseDuration(unit)
		if err != nil {
			return Rate{}, fmt.Errorf("%q is not a rate: unknown unit %q (want s, m, h or a duration such as 10s)", s, unit)
		}
		if d <= 0 {
			return Rate{}, fmt.Errorf("%q is not a rate: the period must be positive", s)
		}
		per = d
	}
	return Rate{N: n, Per: per}, nil
}

package reports

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// Op is a comparison operator of a threshold.
type Op string

// The comparison operators.
const (
	OpLess         Op = "<"
	OpLessEqual    Op = "<="
	OpGreater      Op = ">"
	OpGreaterEqual Op = ">="
	OpEqual        Op = "=="
	OpNotEqual     Op = "!="
)

// holds reports whether "observed op limit" is true. An unknown operator
// never holds.
func (o Op) holds(observed, limit float64) bool {
	switch o {
	case OpLess:
		return observed < limit
	case OpLessEqual:
		return observed <= limit
	case OpGreater:
		return observed > limit
	case OpGreaterEqual:
		return observed >= limit
	case OpEqual:
		return observed == limit
	case OpNotEqual:
		return observed != limit
	}
	return false
}

func (o Op) valid() bool {
	switch o {
	case OpLess, OpLessEqual, OpGreater, OpGreaterEqual, OpEqual, OpNotEqual:
		return true
	}
	return false
}

// Threshold is one pass/fail criterion over a result, such as
// "e2e.p99 < 50ms". Build one with ParseThreshold; it is plain data
// (comparable, JSON-encodable) and Evaluate resolves it again by name.
type Threshold struct {
	// Expr is the expression as written (trimmed).
	Expr string `json:"expr"`
	// Metric is a metric name of the catalogue: connect, e2e, lost,
	// loss_ratio, publish_rate…
	Metric string `json:"metric"`
	// Stat is the canonical statistic of a latency metric (p50, p999, p95,
	// max, min, mean, count); empty for other metrics.
	Stat string `json:"stat,omitempty"`
	// QoS selects one QoS level ("0", "1" or "2"); empty means all levels.
	QoS string `json:"qos,omitempty"`
	// Op is the comparison.
	Op Op `json:"op"`
	// Limit is the value compared with: microseconds for latency
	// statistics, a fraction (0..1) for ratios, messages per second for
	// rates, and a plain number for counts.
	Limit float64 `json:"limit"`
}

// Name returns the canonical name of what the threshold measures, e.g.
// "e2e.p99{qos=1}" or "loss_ratio".
func (t Threshold) Name() string {
	s := t.Metric
	if t.Stat != "" {
		s += "." + t.Stat
	}
	if t.QoS != "" {
		s += "{qos=" + t.QoS + "}"
	}
	return s
}

// String returns the canonical expression, which ParseThreshold reads back
// to the same threshold (but for Expr).
func (t Threshold) String() string {
	return t.Name() + " " + string(t.Op) + " " + t.limitString()
}

// limitString writes Limit exactly, in the syntax ParseThreshold reads.
func (t Threshold) limitString() string {
	if d, ok := lookupMetric(t.Metric); ok && d.class == classLatency && t.Stat != "count" {
		return exactDuration(t.Limit)
	}
	return strconv.FormatFloat(t.Limit, 'f', -1, 64)
}

// limitDisplay writes Limit for people: durations exactly, ratios as
// percentages.
func (t Threshold) limitDisplay(d *metricDef) string {
	switch {
	case d.class == classLatency && t.Stat != "count":
		return exactDuration(t.Limit)
	case d.class == classRatio:
		return trimZeros(strconv.FormatFloat(t.Limit*100, 'f', 10, 64)) + "%"
	case d.class == classRate:
		return fmtNumber(t.Limit) + "/s"
	}
	return fmtNumber(t.Limit)
}

// exactDuration writes microseconds as a Go duration (50ms, 1.5s, 200µs).
func exactDuration(us float64) string {
	return time.Duration(math.Round(us * float64(time.Microsecond))).String()
}

// resolve looks the threshold's metric and statistic up in the catalogue.
func (t Threshold) resolve() (*metricDef, stat, error) {
	d, ok := lookupMetric(t.Metric)
	if !ok {
		return nil, stat{}, unknownMetric(t.Metric)
	}
	var st stat
	if d.class == classLatency {
		var err error
		if st, err = parseStat(t.Stat); err != nil {
			return nil, stat{}, err
		}
	} else if t.Stat != "" {
		return nil, stat{}, fmt.Errorf("%s takes no statistic (got %q)", t.Metric, t.Stat)
	}
	if t.QoS != "" {
		if !d.perQoS {
			return nil, stat{}, fmt.Errorf("%s is not recorded per QoS", t.Metric)
		}
		if t.QoS != "0" && t.QoS != "1" && t.QoS != "2" {
			return nil, stat{}, fmt.Errorf("QoS %q does not exist; want 0, 1 or 2", t.QoS)
		}
	}
	if !t.Op.valid() {
		return nil, stat{}, fmt.Errorf("unknown operator %q", string(t.Op))
	}
	return d, st, nil
}

func unknownMetric(name string) error {
	names := metricNames()
	msg := fmt.Sprintf("unknown metric %q", name)
	if m := didYouMean(name, names); m != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", m)
	}
	return fmt.Errorf("%s; valid metrics: %s", msg, strings.Join(names, ", "))
}

// ParseThreshold reads a threshold expression:
//
//	METRIC[.STAT][{qos=N}] OP VALUE
//
// METRIC is a latency (connect, subscribe, publish_ack, e2e), a counter
// (published, acked, received, expected, lost, duplicates, reordered,
// foreign, lagged, disconnects, reconnects, connect_ok, connect_failed,
// publish_errors…), a ratio (connect_failed_ratio = connect_failed / (ok +
// failed), loss_ratio = lost / expected, duplicate_ratio = duplicates /
// received) or a rate (publish_rate: per second of the load phase, first
// to last intended publish; receive_rate: per second over the run).
// Latencies need a STAT: p50 p90 p99 p999 p9999 max min mean count, or any
// percentile as pNN (p95; p995 is 99.5) or p(99.5). The statistic may also
// follow a space: "e2e p99 < 50ms". {qos=N} selects QoS level N for the
// metrics kept per QoS. OP is one of < <= > >= == !=. VALUE is a duration
// for latency statistics (50ms, 1.5s, 200us or 200µs), a fraction or a
// percentage for ratios (0.001 or 0.1%), and a number otherwise.
//
// An unknown metric name is an error that lists the valid names and
// suggests the closest one.
func ParseThreshold(expr string) (Threshold, error) {
	src := strings.TrimSpace(expr)
	t, err := parseThreshold(src)
	if err != nil {
		if src == "" {
			return Threshold{}, fmt.Errorf("threshold: %w", err)
		}
		return Threshold{}, fmt.Errorf("threshold %q: %w", src, err)
	}
	t.Expr = src
	return t, nil
}

// ParseThresholds parses every expression and returns all errors joined.
func ParseThresholds(exprs []string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	var errs []error
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func parseThreshold(src string) (Threshold, error) {
	if src == "" {
		return Threshold{}, errors.New("empty expression")
	}
	at, op, err := findOp(src)
	if err != nil {
		return Threshold{}, err
	}
	if at < 0 {
		return Threshold{}, errors.New("missing comparison operator; want one of < <= > >= == !=")
	}
	left := strings.TrimSpace(src[:at])
	right := strings.TrimSpace(src[at+len(op):])
	if left == "" {
		return Threshold{}, fmt.Errorf("missing metric before %q", string(op))
	}
	if right == "" {
		return Threshold{}, fmt.Errorf("missing value after %q", string(op))
	}
	if i, op2, _ := findOp(right); i >= 0 {
		return Threshold{}, fmt.Errorf("more than one comparison operator (%s and %s)", op, op2)
	}

	left, qos, err := cutSelector(left)
	if err != nil {
		return Threshold{}, err
	}
	name, statText := left, ""
	if i := strings.IndexFunc(left, func(r rune) bool { return r == '.' || unicode.IsSpace(r) }); i >= 0 {
		name, statText = left[:i], strings.TrimSpace(left[i+1:])
	}
	name, statText = strings.ToLower(name), strings.ToLower(statText)
	if f := strings.Fields(statText); len(f) > 1 {
		return Threshold{}, fmt.Errorf("unexpected %q after the statistic", strings.Join(f[1:], " "))
	}
	d, ok := lookupMetric(name)
	if !ok {
		return Threshold{}, unknownMetric(name)
	}
	t := Threshold{Metric: name, QoS: qos, Op: op}
	var st stat
	switch {
	case d.class == classLatency && statText == "":
		return Threshold{}, fmt.Errorf("%s is a latency and needs a statistic, e.g. %s.p99 (one of %s)", name, name, strings.Join(statNames, " "))
	case d.class == classLatency:
		if st, err = parseStat(statText); err != nil {
			return Threshold{}, err
		}
		t.Stat = st.name
	case statText != "":
		return Threshold{}, fmt.Errorf("%s is not a latency and takes no statistic (got %q)", name, statText)
	}
	if qos != "" && !d.perQoS {
		return Threshold{}, fmt.Errorf("%s is not recorded per QoS; drop {qos=%s}", name, qos)
	}
	if t.Limit, err = parseValue(d, st, right); err != nil {
		return Threshold{}, err
	}
	return t, nil
}

// findOp finds the first comparison operator outside braces. A lone "=" or
// "!" is an error.
func findOp(s string) (int, Op, error) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '{':
			depth++
		case '}':
			if depth--; depth < 0 {
				return -1, "", errors.New(`unbalanced "}"`)
			}
		case '<', '>', '=', '!':
			if depth > 0 {
				continue
			}
			if i+1 < len(s) && s[i+1] == '=' {
				return i, Op(s[i : i+2]), nil
			}
			switch c {
			case '<', '>':
				return i, Op(s[i : i+1]), nil
			case '=':
				return -1, "", errors.New(`"=" is not an operator; use "==" to compare`)
			}
			return -1, "", errors.New(`"!" is not an operator; use "!=" to compare`)
		}
	}
	if depth > 0 {
		return -1, "", errors.New(`missing "}" after the selector`)
	}
	return -1, "", nil
}

// cutSelector removes a {qos=N} selector from the left-hand side and
// returns the QoS level.
func cutSelector(s string) (rest, qos string, err error) {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		if strings.IndexByte(s, '}') >= 0 {
			return "", "", errors.New(`unbalanced "}"`)
		}
		return s, "", nil
	}
	end := strings.IndexByte(s[open:], '}')
	if end < 0 {
		return "", "", errors.New(`missing "}" after the selector`)
	}
	end += open
	rest = s[:open] + s[end+1:]
	if strings.ContainsAny(rest, "{}") {
		return "", "", errors.New("only one {…} selector is allowed")
	}
	body := strings.TrimSpace(s[open+1 : end])
	key, val, ok := strings.Cut(body, "=")
	if !ok {
		key, val, ok = strings.Cut(body, ":")
	}
	key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
	switch {
	case !ok || key == "":
		return "", "", fmt.Errorf("selector {%s}: want {qos=N}", body)
	case key != "qos":
		return "", "", fmt.Errorf("selector {%s}: unknown key %q; only qos is supported", body, key)
	case val != "0" && val != "1" && val != "2":
		return "", "", fmt.Errorf("selector {%s}: QoS %q does not exist; want 0, 1 or 2", body, val)
	}
	return strings.TrimSpace(rest), val, nil
}

// parseValue reads the right-hand side in the unit of the metric.
func parseValue(d *metricDef, st stat, s string) (float64, error) {
	switch {
	case d.class == classLatency && st.op != statCount:
		if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
			return 0, fmt.Errorf("%q needs a unit, e.g. %sms", s, s)
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q; want e.g. 50ms, 1.5s or 200us", s)
		}
		if dur < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return float64(dur) / float64(time.Microsecond), nil
	case d.class == classRatio:
		pct := strings.HasSuffix(s, "%")
		v, err := parseNumber(strings.TrimSpace(strings.TrimSuffix(s, "%")))
		if err != nil {
			return 0, err
		}
		if pct {
			if v > 100 || v < 0 {
				return 0, fmt.Errorf("ratio %s is outside 0%%–100%%", s)
			}
			return v / 100, nil
		}
		if v > 1 {
			return 0, fmt.Errorf("ratio %s is above 1; write %s%% for a percentage", s, s)
		}
		return v, nil
	case d.class == classRate:
		return parseNumber(strings.TrimSpace(strings.TrimSuffix(s, "/s")))
	}
	return parseNumber(s)
}

// parseNumber reads a finite, non-negative number.
func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(s, "xXpP") {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("negative value %q", s)
	}
	return v, nil
}

// Verdict is the outcome of checking a result against thresholds.
type Verdict struct {
	// Results holds one entry per threshold, in the order given.
	Results []ThresholdResult `json:"results"`
}

// Passed reports whether every threshold passed (true with none).
func (v Verdict) Passed() bool { return v.Failed() == 0 }

// Failed returns the number of thresholds that failed.
func (v Verdict) Failed() int {
	n := 0
	for _, r := range v.Results {
		if !r.Passed {
			n++
		}
	}
	return n
}

// Summary says the verdict in a few words: "PASS (3 thresholds)",
// "FAIL (1 of 3 thresholds failed)" or "no thresholds".
func (v Verdict) Summary() string {
	n := len(v.Results)
	switch {
	case n == 0:
		return "no thresholds"
	case v.Passed():
		return fmt.Sprintf("PASS (%s)", plural(n, "threshold"))
	}
	return fmt.Sprintf("FAIL (%d of %s failed)", v.Failed(), plural(n, "threshold"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// ThresholdResult is the outcome of one threshold.
type ThresholdResult struct {
	// Threshold is what was checked.
	Threshold Threshold `json:"threshold"`
	// Observed is the measured value in the threshold's unit (see
	// Threshold.Limit); 0 when NoData is set.
	Observed float64 `json:"observed"`
	// Value is Observed for people ("63.2ms", "0.21%"), or "—".
	Value string `json:"value"`
	// Limit is the limit for people, with its operator: "< 50ms".
	Limit string `json:"limit"`
	// NoData says why there is no observed value ("no samples: no message
	// was received"); such a threshold fails.
	NoData string `json:"no_data,omitempty"`
	// Passed reports whether the threshold held.
	Passed bool `json:"passed"`
	// Message is one line for people: "e2e.p99 = 63.2ms, limit < 50ms".
	Message string `json:"message"`
}

// Evaluate checks res against every threshold. A threshold without data
// (no e2e samples, no expected deliveries) fails and says why; so does a
// threshold that does not resolve (one not made by ParseThreshold).
func Evaluate(res *metrics.Result, thresholds []Threshold) Verdict {
	v := Verdict{Results: make([]ThresholdResult, 0, len(thresholds))}
	for _, t := range thresholds {
		v.Results = append(v.Results, evaluate(res, t))
	}
	return v
}

func evaluate(res *metrics.Result, t Threshold) ThresholdResult {
	r := ThresholdResult{Threshold: t, Value: dash}
	d, st, err := t.resolve()
	if err != nil {
		r.Limit = string(t.Op) + " " + t.limitString()
		r.NoData = "invalid threshold: " + err.Error()
		r.Message = fmt.Sprintf("%s: %s", t.Name(), r.NoData)
		return r
	}
	r.Limit = string(t.Op) + " " + t.limitDisplay(d)
	v, why := measure(res, d, st, t.QoS)
	if why != "" {
		r.NoData = why
		r.Message = fmt.Sprintf("%s: %s, limit %s", t.Name(), why, r.Limit)
		return r
	}
	r.Observed = v
	r.Value = formatValue(d, st, v)
	r.Passed = t.Op.holds(v, t.Limit)
	r.Message = fmt.Sprintf("%s = %s, limit %s", t.Name(), r.Value, r.Limit)
	return r
}

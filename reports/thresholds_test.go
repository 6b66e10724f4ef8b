package reports

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want Threshold
	}{
		{"e2e.p99 < 50ms", Threshold{Metric: "e2e", Stat: "p99", Op: OpLess, Limit: 50000}},
		{"e2e p99 < 50ms", Threshold{Metric: "e2e", Stat: "p99", Op: OpLess, Limit: 50000}},
		{"  E2E.P99<50ms ", Threshold{Metric: "e2e", Stat: "p99", Op: OpLess, Limit: 50000}},
		{"e2e.p99{qos=1} <= 1.5s", Threshold{Metric: "e2e", Stat: "p99", QoS: "1", Op: OpLessEqual, Limit: 1500000}},
		{"e2e{qos=2}.p999 < 200us", Threshold{Metric: "e2e", Stat: "p999", QoS: "2", Op: OpLess, Limit: 200}},
		{"e2e p9999 { qos : 0 } < 200µs", Threshold{Metric: "e2e", Stat: "p9999", QoS: "0", Op: OpLess, Limit: 200}},
		{"publish_ack.max < 1m", Threshold{Metric: "publish_ack", Stat: "max", Op: OpLess, Limit: 60e6}},
		{"connect.p95 < 100ms", Threshold{Metric: "connect", Stat: "p95", Op: OpLess, Limit: 100000}},
		{"connect.p(95) < 100ms", Threshold{Metric: "connect", Stat: "p95", Op: OpLess, Limit: 100000}},
		{"connect.p99.9 < 100ms", Threshold{Metric: "connect", Stat: "p999", Op: OpLess, Limit: 100000}},
		{"connect.p(99.5) < 100ms", Threshold{Metric: "connect", Stat: "p995", Op: OpLess, Limit: 100000}},
		{"subscribe.median < 5ms", Threshold{Metric: "subscribe", Stat: "p50", Op: OpLess, Limit: 5000}},
		{"subscribe.avg < 5ms", Threshold{Metric: "subscribe", Stat: "mean", Op: OpLess, Limit: 5000}},
		{"subscribe.min >= 0", Threshold{Metric: "subscribe", Stat: "min", Op: OpGreaterEqual, Limit: 0}},
		{"e2e.count > 1000", Threshold{Metric: "e2e", Stat: "count", Op: OpGreater, Limit: 1000}},
		{"e2e.count{qos=1} != 0", Threshold{Metric: "e2e", Stat: "count", QoS: "1", Op: OpNotEqual, Limit: 0}},
		{"lost == 0", Threshold{Metric: "lost", Op: OpEqual, Limit: 0}},
		{"duplicates{qos=2} == 0", Threshold{Metric: "duplicates", QoS: "2", Op: OpEqual, Limit: 0}},
		{"published > 1_000", Threshold{Metric: "published", Op: OpGreater, Limit: 1000}},
		{"disconnects <= 1e3", Threshold{Metric: "disconnects", Op: OpLessEqual, Limit: 1000}},
		{"loss_ratio < 0.1%", Threshold{Metric: "loss_ratio", Op: OpLess, Limit: 0.001}},
		{"loss_ratio{qos=1} < 0.001", Threshold{Metric: "loss_ratio", QoS: "1", Op: OpLess, Limit: 0.001}},
		{"connect_failed_ratio < 1 %", Threshold{Metric: "connect_failed_ratio", Op: OpLess, Limit: 0.01}},
		{"duplicate_ratio == 0", Threshold{Metric: "duplicate_ratio", Op: OpEqual, Limit: 0}},
		{"publish_rate >= 900/s", Threshold{Metric: "publish_rate", Op: OpGreaterEqual, Limit: 900}},
		{"receive_rate{qos=0} > 10", Threshold{Metric: "receive_rate", QoS: "0", Op: OpGreater, Limit: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := ParseThreshold(tc.expr)
			if err != nil {
				t.Fatalf("ParseThreshold: %v", err)
			}
			tc.want.Expr = strings.TrimSpace(tc.expr)
			if math.Abs(got.Limit-tc.want.Limit) < 1e-12 {
				got.Limit = tc.want.Limit
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			// The canonical form reads back to the same threshold.
			again, err := ParseThreshold(got.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", got.String(), err)
			}
			again.Expr = got.Expr
			if again != got {
				t.Errorf("round trip through %q: got %+v, want %+v", got.String(), again, got)
			}
		})
	}
}

func TestParseThresholdErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string // substrings of the error
	}{
		{"", []string{"empty expression"}},
		{"e2e.p99", []string{"missing comparison operator"}},
		{"e2d.p99 < 50ms", []string{`unknown metric "e2d"`, `did you mean "e2e"?`, "valid metrics: connect, subscribe, publish_ack, e2e,"}},
		{"pubish_ack.p99 < 50ms", []string{`did you mean "publish_ack"?`}},
		{"loss_rate < 1%", []string{`did you mean "loss_ratio"?`}},
		{"zzzzzzzzzz < 1", []string{`unknown metric "zzzzzzzzzz"; valid metrics:`}},
		{"e2e < 50ms", []string{"e2e is a latency and needs a statistic, e.g. e2e.p99"}},
		{"e2e.p100000 < 50ms", []string{"ambiguous percentile"}},
		{"e2e.p990 < 50ms", []string{"ambiguous percentile"}},
		{"e2e.p(100.5) < 50ms", []string{"outside 0..100"}},
		{"e2e.pmax < 50ms", []string{`unknown statistic "pmax"`, `did you mean "max"?`}},
		{"e2e.p99.9.9 < 50ms", []string{`unknown statistic "p99.9.9"`}},
		{"e2e.p99 < 50", []string{`"50" needs a unit, e.g. 50ms`}},
		{"e2e.p99 < fast", []string{`invalid duration "fast"`}},
		{"e2e.p99 < -5ms", []string{"negative duration"}},
		{"e2e.p99 = 5ms", []string{`use "==" to compare`}},
		{"lost ! 5", []string{`use "!=" to compare`}},
		{"< 5", []string{"missing metric"}},
		{"lost <", []string{"missing value"}},
		{"lost < 5 < 6", []string{"more than one comparison operator"}},
		{"lost.p99 < 5", []string{"lost is not a latency and takes no statistic"}},
		{"connect.p99{qos=1} < 5ms", []string{"connect is not recorded per QoS"}},
		{"disconnects{qos=1} < 5", []string{"disconnects is not recorded per QoS"}},
		{"e2e.p99{qos=3} < 5ms", []string{`QoS "3" does not exist`}},
		{"e2e.p99{group=a} < 5ms", []string{`unknown key "group"`}},
		{"e2e.p99{qos=1 < 5ms", []string{`missing "}"`}},
		{"e2e.p99}{ < 5ms", []string{`unbalanced "}"`}},
		{"e2e.p99{qos=1}{qos=2} < 5ms", []string{"only one"}},
		{"lost < lots", []string{`invalid number "lots"`}},
		{"lost < NaN", []string{`invalid number "NaN"`}},
		{"lost < 0x10", []string{`invalid number "0x10"`}},
		{"lost < -1", []string{"negative value"}},
		{"loss_ratio < 5", []string{"ratio 5 is above 1; write 5% for a percentage"}},
		{"e2e.p99 extra < 5ms", []string{`unexpected "extra"`}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := ParseThreshold(tc.expr)
			if err == nil {
				t.Fatal("ParseThreshold succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.expr != "" && !strings.Contains(err.Error(), "threshold ") {
				t.Errorf("error %q does not name the threshold", err)
			}
		})
	}
}

func TestParseThresholdsJoinsErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseThresholds([]string{"e2e.p99 < 5ms", "bogus < 1", "lost"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`threshold "bogus < 1"`, `threshold "lost"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{})
	e2e := res.Latency.E2E
	obs := fmtMicros(float64(e2e.P99))
	tests := []struct {
		expr    string
		pass    bool
		message string
	}{
		{"e2e.p99 < 1s", true, "e2e.p99 = " + obs + ", limit < 1s"},
		{"e2e.p99 < 1ms", false, "e2e.p99 = " + obs + ", limit < 1ms"},
		{"e2e.p99 >= 1ms", true, ""},
		{"e2e.count == 43038", true, "e2e.count = 43,038, limit == 43,038"},
		{"e2e.max <= 1h", true, ""},
		{"lost == 0", false, "lost = 62, limit == 0"},
		{"lost{qos=1} == 0", true, "lost{qos=1} = 0, limit == 0"},
		{"loss_ratio < 0.1%", false, "loss_ratio = 0.144%, limit < 0.1%"},
		{"loss_ratio{qos=2} == 0", true, ""},
		{"connect_failed_ratio < 5%", true, "connect_failed_ratio = 4.69%, limit < 5%"},
		{"duplicate_ratio < 0.01%", true, ""},
		{"publish_rate > 700", true, "publish_rate = 743/s, limit > 700/s"},
		{"publish_ack.p99{qos=0} < 200us", true, ""},
		{"subscribe.min > 0", true, ""},
		{"connect.mean != 0", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			v := Evaluate(res, mustThresholds(t, tc.expr))
			r := v.Results[0]
			if r.Passed != tc.pass {
				t.Errorf("passed = %v, want %v (%s)", r.Passed, tc.pass, r.Message)
			}
			if tc.message != "" && r.Message != tc.message {
				t.Errorf("message %q, want %q", r.Message, tc.message)
			}
			if v.Passed() != tc.pass {
				t.Errorf("verdict passed = %v", v.Passed())
			}
		})
	}
}

func TestEvaluatePercentileFromHistogram(t *testing.T) {
	t.Parallel()
	// Percentiles that are not in the summary come from the histogram,
	// also after a JSON round trip.
	res := roundTrip(t, makeResult(t, fixture{}))
	th := mustThresholds(t, "e2e.p95 < 1h", "e2e.p(75) < 1h")
	v := Evaluate(res, th)
	for i, p := range []float64{95, 75} {
		want := float64(res.Latency.E2E.Histogram.Percentile(p))
		if got := v.Results[i].Observed; got != want || want == 0 {
			t.Errorf("%s observed %v, want %v", th[i].Name(), got, want)
		}
	}
	// Without the histogram only the summary's percentiles are known.
	res.Latency.E2E.Histogram = nil
	v = Evaluate(res, mustThresholds(t, "e2e.p95 < 1h", "e2e.p99 < 1h"))
	if r := v.Results[0]; r.Passed || !strings.Contains(r.NoData, "needs the histogram") {
		t.Errorf("p95 without histogram: %+v", r)
	}
	if r := v.Results[1]; !r.Passed {
		t.Errorf("p99 without histogram: %+v", r)
	}
}

func TestEvaluateNoData(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{noE2E: true, seconds: 5, devices: 20})
	empty := &metrics.Result{}
	tests := []struct {
		res    *metrics.Result
		expr   string
		noData string
	}{
		{res, "e2e.p99 < 50ms", "no samples: no message was received"},
		{res, "e2e.p99{qos=1} < 50ms", "no samples: no message was received at QoS 1"},
		{res, "duplicate_ratio < 1%", "no data: no message was received"},
		{empty, "connect.p50 < 1s", "no samples: no connect was accepted"},
		{empty, "subscribe.max < 1s", "no samples: no subscription was acknowledged"},
		{empty, "publish_ack.p99 < 1s", "no samples: no publish was acknowledged"},
		{empty, "loss_ratio < 1%", "no data: no delivery was expected"},
		{empty, "loss_ratio{qos=2} < 1%", "no data: no delivery was expected at QoS 2"},
		{empty, "connect_failed_ratio < 1%", "no data: no connect was attempted"},
		{empty, "publish_rate > 0", "no data: nothing was published"},
		{nil, "lost == 0", "no result"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			r := Evaluate(tc.res, mustThresholds(t, tc.expr)).Results[0]
			if r.Passed {
				t.Error("a threshold without data passed")
			}
			if r.NoData != tc.noData {
				t.Errorf("NoData %q, want %q", r.NoData, tc.noData)
			}
			if r.Value != dash || !strings.Contains(r.Message, tc.noData) {
				t.Errorf("value %q message %q", r.Value, r.Message)
			}
		})
	}
	// A count is data even when it is zero.
	if r := Evaluate(res, mustThresholds(t, "e2e.count == 0")).Results[0]; !r.Passed {
		t.Errorf("e2e.count == 0: %+v", r)
	}
}

func TestEvaluateInvalidThreshold(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 3, devices: 10})
	for _, th := range []Threshold{
		{Metric: "nope", Op: OpLess},
		{Metric: "e2e", Stat: "p99", Op: "<>"},
		{Metric: "lost", Stat: "p99", Op: OpLess},
		{Metric: "connect", Stat: "p99", QoS: "1", Op: OpLess},
	} {
		r := Evaluate(res, []Threshold{th}).Results[0]
		if r.Passed || !strings.HasPrefix(r.NoData, "invalid threshold: ") {
			t.Errorf("%+v: %+v", th, r)
		}
	}
}

func TestVerdictSummary(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 3, devices: 10})
	tests := []struct {
		exprs []string
		want  string
	}{
		{nil, "no thresholds"},
		{[]string{"lost >= 0"}, "PASS (1 threshold)"},
		{[]string{"lost >= 0", "lost < 0"}, "FAIL (1 of 2 thresholds failed)"},
	}
	for _, tc := range tests {
		v := Evaluate(res, mustThresholds(t, tc.exprs...))
		if got := v.Summary(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.exprs, got, tc.want)
		}
	}
}

func TestVerdictJSON(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 3, devices: 10})
	v := Evaluate(res, mustThresholds(t, "e2e.p99 < 1s"))
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back Verdict
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Results[0] != v.Results[0] {
		t.Errorf("round trip: %+v, want %+v", back.Results[0], v.Results[0])
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	names := metricNames()
	for in, want := range map[string]string{"e2": "e2e", "conect": "connect", "dups": "", "duplicate": "duplicates", "publish": "published", "": ""} {
		if got := didYouMean(in, names); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{
		"e2e.p99 < 50ms", "e2e p99 < 50ms", "e2e.p99{qos=1} <= 1.5s", "loss_ratio < 0.1%", "lost == 0",
		"connect.p(99.9) < 1s", "publish_rate >= 10/s", "e2e{qos:2}.max != 0", "e2e.p9999 > 200µs",
		"", "<", "{", "}{", "e2e.p < 1", "e2e.p99 < 1e400ms", "loss_ratio < 1e-300%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := ParseThreshold(expr)
		if err != nil {
			return
		}
		if _, _, err := th.resolve(); err != nil {
			t.Fatalf("%q parsed to %+v, which does not resolve: %v", expr, th, err)
		}
		if math.IsNaN(th.Limit) || math.IsInf(th.Limit, 0) || th.Limit < 0 {
			t.Fatalf("%q parsed to limit %v", expr, th.Limit)
		}
		again, err := ParseThreshold(th.String())
		if err != nil {
			t.Fatalf("%q parsed, but its canonical form %q does not: %v", expr, th.String(), err)
		}
		again.Expr = th.Expr
		if again != th && !(again.Metric == th.Metric && again.Stat == th.Stat && again.QoS == th.QoS && again.Op == th.Op &&
			math.Abs(again.Limit-th.Limit) <= 1e-9*math.Max(1, th.Limit)) {
			t.Fatalf("round trip of %q through %q: %+v, want %+v", expr, th.String(), again, th)
		}
		// Evaluating any parsed threshold must not panic, with or without
		// data.
		_ = Evaluate(&metrics.Result{}, []Threshold{th})
	})
}

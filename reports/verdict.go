package reports

import (
	"fmt"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// This file turns the one verdict of a run (metrics.Verdict, in
// res.Verdict) into the words every renderer shows. No renderer decides on
// its own whether a run passed: the status, its headline and its reasons
// come from here.

// Judge evaluates the thresholds against res, records the run's verdict in
// res.Verdict (see metrics.Result.Judge: partial, interrupted, failed,
// thresholds failed or passed) and returns the threshold detail for the
// renderers. Call it once per run, before rendering; WriteAll does.
func Judge(res *metrics.Result, gates []Threshold) Verdict {
	v := Evaluate(res, gates)
	if res != nil {
		res.Judge(v.outcomes())
	}
	return v
}

// outcomes converts the threshold results to the form the result keeps.
func (v Verdict) outcomes() []metrics.ThresholdOutcome {
	out := make([]metrics.ThresholdOutcome, 0, len(v.Results))
	for _, r := range v.Results {
		out = append(out, metrics.ThresholdOutcome{Expr: thresholdExpr(r.Threshold), Passed: r.Passed, Message: r.Message})
	}
	return out
}

// runVerdict returns the verdict of res: res.Verdict when the run was
// judged, else the judgement of res by v's thresholds (an older result, or
// a caller that did not call Judge), computed on a copy so that rendering
// never modifies the result.
func runVerdict(res *metrics.Result, v Verdict) metrics.Verdict {
	if res.Verdict.Status != "" {
		return res.Verdict
	}
	c := *res
	return c.Judge(v.outcomes())
}

// savedVerdict returns the verdict of a result rendered without threshold
// detail (compare): res.Verdict, or for an older result the judgement by
// the thresholds it was run with (Meta.Thresholds).
func savedVerdict(res *metrics.Result) metrics.Verdict {
	if res.Verdict.Status != "" {
		return res.Verdict
	}
	ths, err := ParseThresholds(res.Meta.Thresholds)
	if err != nil {
		ths = nil
	}
	return runVerdict(res, Evaluate(res, ths))
}

// statusMark is the symbol before a headline: ✔ for a passed run only.
func statusMark(s metrics.Status) string {
	if s.OK() {
		return "✔"
	}
	return "✘"
}

// thresholdCount says how the thresholds came out: "2 of 6 thresholds
// failed", "6 of 6 thresholds held" or "" without thresholds.
func thresholdCount(v *metrics.Verdict) string {
	n := len(v.Thresholds)
	if n == 0 {
		return ""
	}
	if f := v.ThresholdsFailed(); f > 0 {
		return fmt.Sprintf("%d of %s failed", f, plural(n, "threshold"))
	}
	if n == 1 {
		return "the threshold held"
	}
	return fmt.Sprintf("%d of %d thresholds held", n, n)
}

// headlineText is the verdict in one line, as text and Markdown show it:
// "✔ PASSED (no thresholds set)", "✘ THRESHOLDS FAILED (2 of 6 thresholds
// failed)", "✘ FAILED", "✘ PARTIAL — this result was written …". The
// reasons of a failed run follow on lines of their own (reasonLines).
func headlineText(res *metrics.Result, v *metrics.Verdict) string {
	s := statusMark(v.Status) + " " + v.Status.Headline()
	count := thresholdCount(v)
	switch v.Status {
	case metrics.StatusPassed:
		if count == "" {
			count = "no thresholds set"
		}
	case metrics.StatusPartial, metrics.StatusInterrupted:
		s += " — " + statusSentence(res, v.Status)
	}
	if count != "" {
		s += " (" + count + ")"
	}
	return s
}

// verdictSummary says a verdict in one line without a mark: "FAILED: no
// device connected (…); the threshold held".
func verdictSummary(v *metrics.Verdict) string {
	parts := reasonLines(v)
	if c := thresholdCount(v); c != "" {
		parts = append(parts, c)
	} else if v.Status.OK() {
		parts = append(parts, "no thresholds set")
	}
	if len(parts) == 0 {
		return v.Status.Headline()
	}
	return v.Status.Headline() + ": " + strings.Join(parts, "; ")
}

// statusSentence explains an interrupted or partial run in a sentence
// without a capital or a full stop.
func statusSentence(res *metrics.Result, s metrics.Status) string {
	switch s {
	case metrics.StatusPartial:
		return "this result was written while the run was still going; it covers the first " +
			fmtSeconds(runDuration(res.StartedAt, res.EndedAt).Seconds())
	case metrics.StatusInterrupted:
		return "the run was stopped before its end; the numbers cover the part that ran"
	}
	return ""
}

// reasonLines lists the reasons of a verdict, one sentence each.
func reasonLines(v *metrics.Verdict) []string {
	out := make([]string, 0, len(v.Reasons))
	for _, r := range v.Reasons {
		out = append(out, oneLine(r.Message))
	}
	return out
}

// verdictClass is the CSS class of a status: pass, fail or warn.
func verdictClass(s metrics.Status) string {
	switch s {
	case metrics.StatusPassed:
		return "pass"
	case metrics.StatusInterrupted, metrics.StatusPartial:
		return "warn"
	}
	return "fail"
}

// capitalize upper-cases the first letter of a sentence.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Package reports turns a fleetbench [metrics.Result] into what people and
// CI pipelines read: a terminal summary ([WriteText]), the result document
// ([WriteJSON]), a self-contained offline HTML report ([WriteHTML]), JUnit
// XML ([WriteJUnit]) and a Markdown summary for CI job pages and pull
// requests ([WriteMarkdown]). [WriteAll] writes all four files of a run into
// one directory.
//
// Thresholds are k6-style pass/fail criteria over a result, such as
// "e2e.p99 < 50ms" or "loss_ratio{qos=1} == 0": [ParseThreshold] reads one
// and [Evaluate] checks a result against a list of them, giving a [Verdict]
// that the command line turns into its exit code.
//
// [Compare] lines several results up side by side (the HTML view is
// [WriteCompareHTML]) and [Regressions] finds the metrics in which a head
// run is worse than a base run beyond a relative tolerance.
//
// Every renderer reads the result through one catalogue of metrics (the
// names thresholds use), prints "—" for anything the result does not hold,
// and escapes every string that came from the user.
package reports

package main

import "github.com/fleetbench/fleetbench/engine/metrics"

// exitCodeFor returns the exit code of a run's verdict: 0 passed, 99
// thresholds failed, 1 failed, 130 interrupted, 1 partial (a result of a
// run still going is not a finished run). An unjudged status is a failure.
func exitCodeFor(s metrics.Status) int {
	switch s {
	case metrics.StatusPassed:
		return exitOK
	case metrics.StatusThresholdsFailed:
		return exitThresholds
	case metrics.StatusInterrupted:
		return exitInterrupted
	}
	return exitRunFailed
}

// statusRank orders statuses from the best to the worst news, to report
// the worst of several results.
func statusRank(s metrics.Status) int {
	switch s {
	case metrics.StatusPassed:
		return 0
	case metrics.StatusThresholdsFailed:
		return 1
	case metrics.StatusInterrupted:
		return 2
	case metrics.StatusPartial:
		return 3
	}
	return 4 // failed, or not judged
}

// worseStatus returns the worse of two statuses.
func worseStatus(a, b metrics.Status) metrics.Status {
	if statusRank(b) > statusRank(a) {
		return b
	}
	return a
}

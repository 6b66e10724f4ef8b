// Package metrics records what a fleetbench run measures and turns it into a
// result.
//
// The pipeline has three stages:
//
//   - A [Recorder] (one per node) is shared by every device actor on that
//     node. Devices record latencies with [Recorder.Record] into lock-striped
//     HDR histograms (microseconds, 1 µs to 1 h, 3 significant digits) and
//     bump atomic counters with [Recorder.Inc], [Recorder.IncQoS] and
//     [Recorder.ConnectFailed]. All of these are allocation-free.
//   - Every second the coordinator takes a [Snapshot] with
//     [Recorder.Snapshot](true): the interval histograms (what was recorded
//     since the previous reset), the whole-run histograms, and the counters.
//     Snapshots from several nodes are combined with [MergeSnapshots]; each
//     interval becomes one [SeriesPoint] via [Snapshot.Point].
//   - At the end, [NewResult] turns the final snapshot and the series into a
//     [Result], the document written as result.json (schema [Schema]). A
//     result carries every histogram in the HDR V2 compressed encoding, so a
//     saved result can be decoded with [UnmarshalResult], re-rendered and
//     merged exactly with [MergeResults].
//
// Latencies are stored in microseconds. Values above one hour are clamped to
// the maximum and counted as [LatencySaturated]; negative durations (clock
// skew) are recorded as zero and counted as [LatencyNegative].
package metrics

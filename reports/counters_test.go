package reports

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// everyCounterResult is a result in which every counter of the result
// model holds its own non-zero value, with one device group.
func everyCounterResult(t *testing.T) *metrics.Result {
	t.Helper()
	rec, err := metrics.NewRecorder(metrics.Options{Stripes: 1})
	if err != nil {
		t.Fatal(err)
	}
	groups := make([]metrics.GroupCounters, 1)
	tl := rec.Tally(metrics.Group(groups, 0))
	for k := metrics.Counter(0); k < metrics.NumCounters; k++ {
		tl.Add(k, 100+int64(k))
	}
	for k := metrics.QoSCounter(0); k < metrics.NumQoSCounters; k++ {
		for q := range metrics.NumQoS {
			tl.AddQoS(k, q, 1000+10*int64(k)+int64(q))
		}
	}
	tl.ConnectFailed(metrics.ReasonTimeout)
	tl.QoSMismatch(1, 0)
	snap := rec.Snapshot(false)
	res := metrics.NewResult(&snap, nil)
	res.Groups = []metrics.GroupResult{groups[0].Result("sensors")}
	return res
}

// TestEveryCounterInReportRows: every counter column of the result model
// is a metric (thresholds, comparisons) with its value, a row of the
// counter table with its value, and a column of the HTML report's counter
// and group tables.
func TestEveryCounterInReportRows(t *testing.T) {
	res := everyCounterResult(t)
	rows := counterRows(res)
	byName := map[string]counterRow{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, res, Options{}); err != nil {
		t.Fatal(err)
	}
	out := html.UnescapeString(page.String())
	for _, c := range metrics.Columns() {
		v := c.Of(&res.Totals)
		if v == 0 {
			t.Errorf("%s: the test counts 0", c.Name)
		}
		d, ok := lookupMetric(c.Name)
		if !ok {
			t.Errorf("%s is not a metric", c.Name)
			continue
		}
		if got, why := measure(res, d, stat{}, ""); got != float64(v) || why != "" {
			t.Errorf("metric %s = %v (%s), want %d", c.Name, got, why, v)
		}
		r, ok := byName[c.Name]
		if !ok {
			t.Errorf("%s has no counter row", c.Name)
			continue
		}
		want := fmtCount(v)
		if strings.HasPrefix(c.Name, "bytes_") {
			want = fmtBytes(v)
		}
		if r.Value != want || r.Help == "" {
			t.Errorf("row %s: %q (help %q), want %q", c.Name, r.Value, r.Help, want)
		}
		if !strings.Contains(out, ">"+c.Name+"<") {
			t.Errorf("%s missing from the HTML counter table", c.Name)
		}
	}
	if len(rows) != len(metrics.Columns()) {
		t.Errorf("%d counter rows, want one per column (%d)", len(rows), len(metrics.Columns()))
	}
	g := &res.Groups[0]
	for _, c := range metrics.GroupColumns() {
		head := strings.ReplaceAll(c.Name, "_", " ")
		if !strings.Contains(out, `<th class="num">`+head+"</th>") {
			t.Errorf("group column %s missing from the HTML group table", c.Name)
		}
		if v := c.OfGroup(g); v != c.Of(&res.Totals) {
			t.Errorf("group %s = %d, total %d: one device group holds the whole fleet", c.Name, v, c.Of(&res.Totals))
		}
	}
	rowsG := groupRows(res)
	if len(rowsG) != 1 || len(rowsG[0].Cells) != len(metrics.GroupColumns()) {
		t.Fatalf("group rows %+v", rowsG)
	}
}

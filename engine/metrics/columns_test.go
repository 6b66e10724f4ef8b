package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestColumnsComplete: every counter has its table entry and Totals field,
// every Totals, QoSTotals and GroupResult field is a column.
func TestColumnsComplete(t *testing.T) {
	if columnsErr != nil {
		t.Fatal(columnsErr)
	}
	if got, want := len(columns), int(NumCounters)+int(NumQoSCounters)+len(derivedColumns); got != want {
		t.Fatalf("%d columns, want %d", got, want)
	}
}

// TestColumnsRejectMissingEntries: a counter without its table entry, or a
// table entry without its Totals field, is an error naming it.
func TestColumnsRejectMissingEntries(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func()
		want   string
	}{
		"no table entry":   {func() { counterTable[ProtocolErrors] = counterDef{} }, "has no counterTable entry"},
		"no Totals field":  {func() { counterTable[ProtocolErrors].total = "protocol_errs" }, `"protocol_errs" has no Totals field`},
		"no QoS entry":     {func() { qosCounterTable[Reordered] = qosCounterDef{} }, "has no qosCounterTable entry"},
		"duplicate column": {func() { counterTable[ProtocolErrors].total = "foreign" }, `"foreign" defined twice`},
	} {
		t.Run(name, func(t *testing.T) {
			saved, savedQ := counterTable, qosCounterTable
			defer func() { counterTable, qosCounterTable = saved, savedQ }()
			c.mutate()
			_, err := buildColumns()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// everyCounter counts every counter of a Recorder, through a Tally into a
// group, with a distinct value: counter k is 100+k, per-QoS counter k at
// QoS q is 1000+10k+q, failure reason r is r+1 (in group g only through
// the Tally, so fleet and group hold the same).
func everyCounter(t *testing.T) (*Recorder, *GroupCounters) {
	t.Helper()
	rec, err := NewRecorder(Options{Stripes: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := new(GroupCounters)
	tl := rec.Tally(g)
	for k := Counter(0); k < NumCounters; k++ {
		tl.Add(k, 100+int64(k))
	}
	for k := QoSCounter(0); k < NumQoSCounters; k++ {
		for q := range NumQoS {
			tl.AddQoS(k, q, 1000+10*int64(k)+int64(q))
		}
	}
	for r := FailReason(0); r < NumFailReasons; r++ {
		for range int(r) + 1 {
			tl.ConnectFailed(r)
		}
	}
	tl.QoSMismatch(1, 0)
	return rec, g
}

// TestEveryCounterInEveryOutput: every column is in result.json's totals
// with its value, every group column in the group line, every per-QoS
// counter in by_qos, and every counter in the Prometheus text.
func TestEveryCounterInEveryOutput(t *testing.T) {
	rec, g := everyCounter(t)
	snap := rec.Snapshot(false)
	res := NewResult(&snap, nil)
	res.Groups = []GroupResult{g.Result("g")}
	data, err := res.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Totals map[string]int64            `json:"totals"`
		ByQoS  map[string]map[string]int64 `json:"by_qos"`
		Groups []map[string]any            `json:"groups"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	groupCols := 0
	for _, c := range columns {
		want := c.from(&snap.Counts)
		if want == 0 {
			t.Errorf("column %s: the test counts 0 (pick distinct values)", c.Name)
		}
		if got, ok := doc.Totals[c.Name]; !ok || got != want {
			t.Errorf("totals.%s = %d (present %v), want %d", c.Name, got, ok, want)
		}
		if c.PerQoS {
			for q := range NumQoS {
				if got, want := doc.ByQoS[qosKey(q)][c.Name], snap.Counts.GetQoS(c.qk, q); got != want {
					t.Errorf("by_qos.%d.%s = %d, want %d", q, c.Name, got, want)
				}
			}
		}
		if c.Group {
			groupCols++
			if got, ok := doc.Groups[0][c.Name].(float64); !ok || int64(got) != want {
				t.Errorf("groups[0].%s = %v, want %d (fleet-wide and group counts must agree)", c.Name, doc.Groups[0][c.Name], want)
			}
		}
	}
	if groupCols == 0 || len(doc.Groups[0]) != groupCols+1 {
		t.Errorf("group line %v: %d group columns", doc.Groups[0], groupCols)
	}

	var b bytes.Buffer
	if err := WritePrometheus(&b, &snap); err != nil {
		t.Fatal(err)
	}
	prom := b.String()
	for k := range counterTable {
		d := &counterTable[k]
		fam := promFamilies[d.prom]
		line := fmt.Sprintf("%s %d\n", fam.name, 100+k)
		if fam.label != "" {
			label := d.label
			if label == "" {
				label = d.name
			}
			line = fmt.Sprintf("%s{%s=%q} %d\n", fam.name, fam.label, label, 100+k)
		}
		if !strings.Contains(prom, line) {
			t.Errorf("counter %s: no %q in the Prometheus text", d.name, line)
		}
	}
	for k := QoSCounter(0); k < NumQoSCounters; k++ {
		for q := range NumQoS {
			line := fmt.Sprintf("fleetbench_messages_total{kind=%q,qos=\"%d\"} %d\n", k, q, 1000+10*int(k)+q)
			if !strings.Contains(prom, line) {
				t.Errorf("no %q in the Prometheus text", line)
			}
		}
	}
	for r := FailReason(0); r < NumFailReasons; r++ {
		if line := fmt.Sprintf("fleetbench_connects_total{result=%q} %d\n", r, r+1); !strings.Contains(prom, line) {
			t.Errorf("no %q in the Prometheus text", line)
		}
	}
}

// TestPrometheusNamesUnchanged: the exported families and labels of the
// earlier, hand-written exposition are all still there.
func TestPrometheusNamesUnchanged(t *testing.T) {
	rec, _ := everyCounter(t)
	snap := rec.Snapshot(false)
	var b bytes.Buffer
	if err := WritePrometheus(&b, &snap); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nfleetbench_devices_connected ", "\nfleetbench_devices_started_total ",
		"\nfleetbench_connects_total{result=\"ok\"} ", "\nfleetbench_connects_total{result=\"timeout\"} ",
		"\nfleetbench_events_total{event=\"disconnects\"} ", "\nfleetbench_events_total{event=\"reconnects\"} ",
		"\nfleetbench_events_total{event=\"subscribe_ok\"} ", "\nfleetbench_events_total{event=\"subscribe_failed\"} ",
		"\nfleetbench_events_total{event=\"foreign\"} ", "\nfleetbench_events_total{event=\"lagged\"} ",
		"\nfleetbench_events_total{event=\"publish_errors\"} ",
		"\nfleetbench_bytes_total{direction=\"out\"} ", "\nfleetbench_bytes_total{direction=\"in\"} ",
		"# TYPE fleetbench_devices_connected gauge\n", "# TYPE fleetbench_events_total counter\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q", want)
		}
	}
}

// TestGroupResultAdd: group lines add column by column.
func TestGroupResultAdd(t *testing.T) {
	_, g := everyCounter(t)
	a, b := g.Result("a"), g.Result("b")
	a.Add(&b)
	for _, c := range GroupColumns() {
		if got, want := c.OfGroup(&a), 2*c.OfGroup(&b); got != want || want == 0 {
			t.Errorf("%s: %d, want %d", c.Name, got, want)
		}
	}
	if a.Name != "a" {
		t.Errorf("name %q", a.Name)
	}
}

// TestTotalsAdd: totals add column by column.
func TestTotalsAdd(t *testing.T) {
	rec, _ := everyCounter(t)
	snap := rec.Snapshot(false)
	a, b := TotalsFrom(&snap.Counts), TotalsFrom(&snap.Counts)
	a.Add(&b)
	for _, c := range columns {
		if got, want := c.Of(&a), 2*c.Of(&b); got != want {
			t.Errorf("%s: %d, want %d", c.Name, got, want)
		}
	}
}

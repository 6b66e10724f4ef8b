package metrics

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Column is one whole-run counter of a result: a field of Totals (and of
// QoSTotals when PerQoS, of GroupResult when Group). Columns are derived
// from counterTable, qosCounterTable and derivedColumns; reports build their
// counter metrics and rows from them, so a counter added there shows up
// everywhere.
type Column struct {
	// Name is the JSON field in totals (and by_qos, groups).
	Name string
	// Help says what the column counts.
	Help string
	// Better says which way the column is better.
	Better Better
	// PerQoS is set for the message counters, kept per QoS level.
	PerQoS bool
	// Group is set for the columns of a group line (GroupResult).
	Group bool

	from  func(*Counts) int64 // the column's value from the counters
	qk    QoSCounter          // the per-QoS counter (PerQoS only)
	total int                 // field index in Totals
	qos   int                 // field index in QoSTotals (PerQoS only)
	group int                 // field index in GroupResult (Group only)
}

// derivedColumn is a Totals column that is not one counter.
type derivedColumn struct {
	name, help string
	better     Better
	from       func(*Counts) int64
}

// derivedColumns are the Totals columns computed from several counters.
// ConnectedPeak starts as the Connected gauge; NewResult raises it to the
// peak of the series.
var derivedColumns = []derivedColumn{
	{"connected_peak", "highest number of connected devices at the one-second samples", HigherBetter,
		func(c *Counts) int64 { return c.Get(Connected) }},
	{"connect_failed", "failed connects", LowerBetter, (*Counts).ConnectFailedTotal},
	{"qos_mismatch", "stamped deliveries at another QoS than planned: counted as received, never as lost", LowerBetter,
		(*Counts).MismatchTotal},
}

// columns lists every Totals column in Totals' field order.
var columns, columnsErr = buildColumns()

// Columns returns every whole-run counter column, in Totals' field order.
func Columns() []Column { return append([]Column(nil), columns...) }

// GroupColumns returns the columns of a group line, in GroupResult's field
// order.
func GroupColumns() []Column {
	out := make([]Column, 0, len(columns))
	for _, c := range columns {
		if c.Group {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Column) int { return cmp.Compare(a.group, b.group) })
	return out
}

// Of returns the column's value in t.
func (c Column) Of(t *Totals) int64 {
	return reflect.ValueOf(t).Elem().Field(c.total).Int()
}

// OfQoS returns the column's value in q (0 unless PerQoS).
func (c Column) OfQoS(q *QoSTotals) int64 {
	if !c.PerQoS {
		return 0
	}
	return reflect.ValueOf(q).Elem().Field(c.qos).Int()
}

// OfGroup returns the column's value in g (0 unless Group).
func (c Column) OfGroup(g *GroupResult) int64 {
	if !c.Group {
		return 0
	}
	return reflect.ValueOf(g).Elem().Field(c.group).Int()
}

// SetGroup sets the column's value in g (nothing unless Group).
func (c Column) SetGroup(g *GroupResult, v int64) {
	if c.Group {
		reflect.ValueOf(g).Elem().Field(c.group).SetInt(v)
	}
}

// buildColumns joins the counter tables with the fields of Totals,
// QoSTotals and GroupResult by JSON name. Every table entry must have its
// Totals field and every int64 field a table entry; otherwise the error
// says which (checked by TestColumnsComplete, and every Columns user).
func buildColumns() ([]Column, error) {
	byName := map[string]*Column{}
	var defs []*Column
	def := func(c *Column) error {
		if _, dup := byName[c.Name]; dup {
			return fmt.Errorf("metrics: column %q defined twice", c.Name)
		}
		byName[c.Name] = c
		defs = append(defs, c)
		return nil
	}
	var errs []string
	for k := range counterTable {
		d := &counterTable[k]
		if d.name == "" {
			errs = append(errs, fmt.Sprintf("counter %d has no counterTable entry", k))
			continue
		}
		k := Counter(k)
		if err := def(&Column{Name: d.totalName(), Help: d.help, Better: d.better, from: func(c *Counts) int64 { return c.Get(k) }}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for k := range qosCounterTable {
		d := &qosCounterTable[k]
		if d.name == "" {
			errs = append(errs, fmt.Sprintf("per-QoS counter %d has no qosCounterTable entry", k))
			continue
		}
		k := QoSCounter(k)
		if err := def(&Column{Name: d.name, Help: d.help, Better: d.better, PerQoS: true, qk: k, from: func(c *Counts) int64 { return c.Sum(k) }}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, d := range derivedColumns {
		if err := def(&Column{Name: d.name, Help: d.help, Better: d.better, from: d.from}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	claim := func(typ reflect.Type, skip string, set func(c *Column, i int)) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == skip {
				continue
			}
			c, ok := byName[name]
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("%s.%s (json %q) has no counter table entry", typ.Name(), f.Name, name))
			case f.Type.Kind() != reflect.Int64:
				errs = append(errs, fmt.Sprintf("%s.%s is not an int64", typ.Name(), f.Name))
			default:
				set(c, i)
			}
		}
	}
	for _, c := range defs {
		c.total, c.qos, c.group = -1, -1, -1
	}
	claim(reflect.TypeFor[Totals](), "", func(c *Column, i int) { c.total = i })
	claim(reflect.TypeFor[QoSTotals](), "", func(c *Column, i int) {
		if !c.PerQoS {
			errs = append(errs, fmt.Sprintf("QoSTotals field %q is not a per-QoS counter", c.Name))
		}
		c.qos = i
	})
	claim(reflect.TypeFor[GroupResult](), "name", func(c *Column, i int) { c.group, c.Group = i, true })
	out := make([]Column, 0, len(defs))
	for _, c := range defs {
		if c.total < 0 {
			errs = append(errs, fmt.Sprintf("counter %q has no Totals field", c.Name))
			continue
		}
		if c.PerQoS && c.qos < 0 {
			errs = append(errs, fmt.Sprintf("per-QoS counter %q has no QoSTotals field", c.Name))
			continue
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Column) int { return cmp.Compare(a.total, b.total) })
	if len(errs) > 0 {
		return out, fmt.Errorf("metrics: counter tables and result fields disagree: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

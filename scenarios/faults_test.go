package scenarios

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	s := loadTest(t, "testdata/faults.yaml")
	sensors, gateways := s.Groups[0], s.Groups[1]
	pos := func(line, col int) Position { return Position{File: "testdata/faults.yaml", Line: line, Col: col} }
	want := []Fault{
		{At: 30 * time.Second, For: 10 * time.Second, Group: sensors, Fraction: 0.5, Latency: 200 * time.Millisecond,
			Jitter: 50 * time.Millisecond, Bandwidth: 10_000, Pos: pos(12, 5)},
		{At: time.Minute, For: 30 * time.Second, Fraction: 1, Stall: true, Pos: pos(19, 6)},
		{At: 2 * time.Minute, For: time.Minute, Fraction: 0.25, Cut: true, Refuse: true, Pos: pos(20, 6)},
		{At: 4 * time.Minute, For: 20 * time.Second, Fraction: 1, BrokerOutage: true, Pos: pos(21, 6)},
		{At: 0, For: 5 * time.Minute, Group: gateways, Fraction: 1, Bandwidth: 1.5 * (1 << 20), Pos: pos(22, 6)},
	}
	if fmt.Sprintf("%+v", s.Faults) != fmt.Sprintf("%+v", want) {
		t.Errorf("faults\n%+v\nwant\n%+v", s.Faults, want)
	}
	if s.Faults[0].End() != 40*time.Second {
		t.Errorf("End = %s", s.Faults[0].End())
	}
	wantChurn := []Churn{
		{Group: sensors, Fraction: 0.1, Every: time.Minute, Down: 5 * time.Second, Start: 30 * time.Second, Pos: pos(24, 5)},
		{Fraction: 0.01, Every: 2 * time.Minute, Down: 119 * time.Second, Start: 2 * time.Minute, Pos: pos(29, 6)},
	}
	if fmt.Sprintf("%+v", s.Churn) != fmt.Sprintf("%+v", wantChurn) {
		t.Errorf("churn\n%+v\nwant\n%+v", s.Churn, wantChurn)
	}
	// Cycles at 30s, 1m30s, … 4m30s within 5 minutes; at 2m and 4m.
	if n := s.Churn[0].Cycles(s.Duration); n != 5 || s.Churn[0].CycleStart(4) != 4*time.Minute+30*time.Second {
		t.Errorf("churn 0: %d cycles, last at %s", n, s.Churn[0].CycleStart(4))
	}
	if n := s.Churn[1].Cycles(s.Duration); n != 2 {
		t.Errorf("churn 1: %d cycles", n)
	}
	if n := s.Churn[1].Cycles(4*time.Minute + 1); n != 2 {
		t.Errorf("churn 1 in 4m: %d cycles", n)
	}
	if n := s.Churn[1].Cycles(4 * time.Minute); n != 1 {
		t.Errorf("churn 1 in 4m: %d cycles", n)
	}
}

func TestInFaultAndChurn(t *testing.T) {
	s := loadTest(t, "testdata/faults.yaml")
	count := func(f func(gi int) bool) (n int, inSensors int) {
		for gi := range s.Total() {
			if f(gi) {
				n++
				if gi < 1000 {
					inSensors++
				}
			}
		}
		return n, inSensors
	}
	// Fault 0: half of the sensors, no gateway.
	if n, ns := count(func(gi int) bool { return s.InFault(0, gi) }); n != ns || n < 450 || n > 550 {
		t.Errorf("fault 0 hits %d devices, %d sensors", n, ns)
	}
	// Fault 1: everyone. Fault 3 (broker outage): everyone. Fault 4: the gateways.
	for k, want := range map[int][2]int{1: {1010, 1000}, 3: {1010, 1000}, 4: {10, 0}} {
		if n, ns := count(func(gi int) bool { return s.InFault(k, gi) }); n != want[0] || ns != want[1] {
			t.Errorf("fault %d hits %d devices, %d sensors", k, n, ns)
		}
	}
	// Fault 2 and churn 0 are independent draws.
	both := 0
	for gi := range 1000 {
		if s.InFault(2, gi) && s.InChurn(0, 0, gi) {
			both++
		}
	}
	if both > 50 { // expected 25
		t.Errorf("fault 2 and churn 0 overlap on %d devices", both)
	}
	// Each churn cycle draws anew.
	same := 0
	n0, _ := count(func(gi int) bool { return s.InChurn(0, 0, gi) })
	for gi := range 1000 {
		if s.InChurn(0, 0, gi) && s.InChurn(0, 1, gi) {
			same++
		}
	}
	if n0 < 70 || n0 > 130 || same > 30 {
		t.Errorf("churn 0: %d devices in cycle 0, %d of them again in cycle 1", n0, same)
	}
	if s.InFault(9, 0) || s.InFault(-1, 0) || s.InChurn(5, 0, 0) || s.InChurn(0, -1, 0) || s.InFault(1, s.Total()) {
		t.Error("out of range arguments")
	}
}

func TestSelected(t *testing.T) {
	s := &Scenario{Seed: 42}
	const n = 10_000
	pick := func(s *Scenario, fraction float64, salt uint64) []bool {
		out := make([]bool, n)
		for i := range out {
			out[i] = s.Selected(fraction, i, salt)
		}
		return out
	}
	sum := func(v []bool) int {
		k := 0
		for _, b := range v {
			if b {
				k++
			}
		}
		return k
	}
	for salt := range uint64(20) {
		got := sum(pick(s, 0.1, salt))
		if got < 800 || got > 1200 { // 10% ± 2%
			t.Errorf("salt %d: %d of %d selected, want 10%% ± 2%%", salt, got, n)
		}
	}
	for _, f := range []float64{0.01, 0.25, 0.5, 0.9} {
		if got := float64(sum(pick(s, f, 1))) / n; math.Abs(got-f) > 0.02 {
			t.Errorf("fraction %g: %g selected", f, got)
		}
	}
	// Deterministic: the same on every call and for an equal scenario
	// (another node); another seed or salt picks another set.
	a := pick(s, 0.1, 7)
	if fmt.Sprint(a) != fmt.Sprint(pick(&Scenario{Seed: 42}, 0.1, 7)) {
		t.Error("not deterministic")
	}
	overlap := func(x, y []bool) int {
		k := 0
		for i := range x {
			if x[i] && y[i] {
				k++
			}
		}
		return k
	}
	if o := overlap(a, pick(s, 0.1, 8)); o > 200 { // independent: about 100
		t.Errorf("salts 7 and 8 share %d devices", o)
	}
	if o := overlap(a, pick(&Scenario{Seed: 43}, 0.1, 7)); o > 200 {
		t.Errorf("seeds 42 and 43 share %d devices", o)
	}
	// Smaller fractions pick subsets of larger ones (same salt).
	small, large := pick(s, 0.05, 3), pick(s, 0.2, 3)
	if overlap(small, large) != sum(small) {
		t.Error("fraction 0.05 is not a subset of 0.2")
	}
	for _, f := range []float64{0, -1, math.NaN()} {
		if s.Selected(f, 1, 1) {
			t.Errorf("fraction %g selected a device", f)
		}
	}
	if !s.Selected(1, 1, 1) || !s.Selected(2, 1, 1) {
		t.Error("fraction 1 left a device out")
	}
}

func TestParseBandwidth(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  string
	}{
		{"10KB/s", 10_000, ""},
		{"1B/s", 1, ""},
		{"1.5MB/s", 1_500_000, ""},
		{"256KiB/s", 256 << 10, ""},
		{"2MiB/s", 2 << 20, ""},
		{" 10 KB / s ", 10_000, ""},
		{"1_000B/s", 1000, ""},
		{"10kb/s", 0, `"10kb/s" has no known unit; write 10KB/s (bytes)`},
		{"10KB", 0, `"10KB" is not a rate per second; write 10KB/s`},
		{"10KB/m", 0, `not a rate per second`},
		{"10/s", 0, `has no known unit; add a unit, e.g. 10KB/s`},
		{"10GB/s", 0, `has no known unit; the units are B, KB, MB`},
		{"8Mbps", 0, `is in bits`},
		{"1Mbit/s", 0, `is in bits`},
		{"fast", 0, `"fast" is not a bandwidth`},
		{"", 0, `empty bandwidth`},
		{"0.5B/s", 0, `less than 1 byte per second`},
		{"0KB/s", 0, `less than 1 byte per second`},
		{"2000000MB/s", 0, `more than 1TB/s`},
		{"1.2.3KB/s", 0, `not a bandwidth`},
	} {
		got, err := ParseBandwidth(tt.in)
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want error %q", tt.in, got, err, tt.err)
		}
	}
}

func TestSetFaults(t *testing.T) {
	doc, err := ReadFile("testdata/faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"faults[0].for=5s", "faults[1].fraction=0.3", "churn[1].down=10s"} {
		if err := doc.ApplySetArg(arg); err != nil {
			t.Fatal(err)
		}
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if s.Faults[0].For != 5*time.Second || s.Faults[1].Fraction != 0.3 || s.Churn[1].Down != 10*time.Second {
		t.Errorf("overrides not applied: %+v %+v", s.Faults[:2], s.Churn[1])
	}
	// Overrides are validated like the file, at the position of the value they replace.
	doc, _ = ReadFile("testdata/faults.yaml")
	if err := doc.ApplySetArg("faults[0].for=0s"); err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySetArg("faults[0].jitter=1s"); err != nil {
		t.Fatal(err)
	}
	_, err = doc.Scenario()
	want := "testdata/faults.yaml:13:10: faults[0].for: must be positive; how long the fault lasts, e.g. for: 10s (from --set faults[0].for=0s)\n" +
		"testdata/faults.yaml:17:13: faults[0].jitter: jitter 1s is more than latency 200ms; the delay is latency ± jitter, so jitter must not exceed latency (from --set faults[0].jitter=1s)"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	// A --set that shortens the run moves faults out of it.
	doc, _ = ReadFile("testdata/faults.yaml")
	if err := doc.ApplySetArg("duration=35s"); err != nil {
		t.Fatal(err)
	}
	_, err = doc.Scenario()
	if err == nil || !strings.Contains(err.Error(), "faults.yaml:13:10: faults[0].for: the fault ends at 40s, after the end of the run (duration 35s)") {
		t.Errorf("got %v", err)
	}
	doc, _ = ReadFile("testdata/faults.yaml")
	if err := doc.ApplySetArg("faults[0].latancy=1s"); err == nil ||
		err.Error() != `--set: faults[0].latancy: no field "latancy" in fault; did you mean "latency"? (from --set faults[0].latancy=1s)` {
		t.Errorf("got %v", err)
	}
}

// TestSoakFaults checks that the fault timeline soak-10k.yaml shows in its
// comments loads when uncommented.
func TestSoakFaults(t *testing.T) {
	data, err := os.ReadFile("examples/soak-10k.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	on := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case l == "# faults:":
			on = true
		case on && !strings.HasPrefix(l, "# "):
			on = false
		}
		if on {
			l = strings.TrimPrefix(l, "# ")
		}
		out = append(out, l)
	}
	s, err := Parse("soak-faults.yaml", []byte(strings.Join(out, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Faults) != 2 || len(s.Churn) != 1 || !s.Faults[1].Cut || s.Churn[0].Every != time.Minute {
		t.Errorf("faults %+v churn %+v", s.Faults, s.Churn)
	}
}

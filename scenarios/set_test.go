package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const setBase = `name: set
duration: 30s
x-defaults: &defaults
  connect: {rate: 10/s}
devices:
  - name: sensors
    count: 10
    <<: *defaults
    publish:
      - {topic: a/b, rate: 1/s, qos: 1}
  - name: gateways
    count: 2
    device_name: gw-${index}
    <<: *defaults
`

func setDoc(t *testing.T) *Document {
	t.Helper()
	doc, err := ParseDocument("testdata/set.yaml", []byte(setBase))
	if err != nil {
		t.Fatal(err)
	}
	doc.Env = testEnv
	return doc
}

func TestApplySet(t *testing.T) {
	doc := setDoc(t)
	for _, arg := range []string{
		"devices[0].count=50",
		"duration=10s",
		"seed=7",                              // absent in the file: added
		"broker.url=mqtt://localhost:1884",    // absent parent mapping: added
		"devices[gateways].connect.rate=99/s", // by group name; the merged mapping is copied
		"devices[0].publish[0].qos=2",
		"devices[0].publish[0].payload.size=100",
		"stages=[{duration: 5s, target: 52}]", // a YAML value
	} {
		if err := doc.ApplySetArg(arg); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if s.Groups[0].Count != 50 || s.Duration != 10*time.Second || s.Seed != 7 || s.Broker.Addr() != "localhost:1884" ||
		s.Groups[0].Publish[0].QoS != 2 || s.Groups[0].Publish[0].Payload.Size != 100 ||
		len(s.Stages) != 1 || s.Stages[0].Target != 52 {
		t.Errorf("overrides not applied: %+v", s)
	}
	if s.Groups[1].Connect.Rate.N != 99 || s.Groups[0].Connect.Rate.N != 10 {
		t.Errorf("connect rates: %v %v (the merged defaults must not be shared)", s.Groups[0].Connect.Rate, s.Groups[1].Connect.Rate)
	}
}

func TestApplySetErrors(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{
		{"devices[0].cuont=5", `--set: devices[0].cuont: no field "cuont" in device group; did you mean "count"?`},
		{"devices[5].count=5", `--set: devices[5]: no element devices[5]; devices has 2 elements`},
		{"devices[nope].count=5", `no element devices[nope]`},
		{"duration.x=5", `--set: duration: duration is a value, not a mapping or list`},
		{"devices.count=5", `--set: devices: devices is a list; write devices[0].count or devices[<name>].count`},
		{"thresholds.x=5", `--set: thresholds: thresholds is a list of values`},
		{"bogus=1", `--set: bogus: no field "bogus" in scenario; known fields: name,`},
		{"devices[0]publish=1", `bad path: missing '.' before "publish"`},
		{"[0]=1", `bad path: a path starts with a field name`},
		{"count", `"count" is not path=value`},
		{"name=[", `bad value "["`},
	} {
		err := setDoc(t).ApplySetArg(tt.arg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %s", tt.arg, err, tt.want)
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Errorf("%s: %T is not an *Error", tt.arg, err)
		}
	}
}

// TestApplySetValidation checks that an override is validated like the
// file, at the position of the value it replaced.
func TestApplySetValidation(t *testing.T) {
	doc := setDoc(t)
	if err := doc.ApplySet("devices[0].publish[0].qos", "3"); err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySet("devices[1].keepalive", "5s"); err != nil {
		t.Fatal(err)
	}
	_, err := doc.Scenario()
	got := err.Error()
	want := "testdata/set.yaml:10:38: devices[0].publish[0].qos: 3 is not a QoS (want 0, 1 or 2) (from --set devices[0].publish[0].qos=3)\n" +
		"testdata/set.yaml:11:5: devices[1].keepalive: 5s is out of range; the SDK accepts 30s … 1200s (20m) (from --set devices[1].keepalive=5s)"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestApplySetEmptyDocument(t *testing.T) {
	doc, err := ParseDocument("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"duration=1s", "devices=[{name: g, count: 3}]"} {
		if err := doc.ApplySetArg(arg); err != nil {
			t.Fatal(err)
		}
	}
	s, err := doc.Scenario()
	if err != nil || s.Total() != 3 {
		t.Fatalf("%v %v", s, err)
	}
}

// TestSoakSmoke runs the override the soak example documents.
func TestSoakSmoke(t *testing.T) {
	doc, err := ReadFile("examples/soak-10k.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySetArg("duration=30s"); err != nil {
		t.Fatal(err)
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if s.Duration != 30*time.Second || s.TargetAt(s.Duration) != 10000 {
		t.Errorf("duration %s, %d devices at the end", s.Duration, s.TargetAt(s.Duration))
	}
}

// TestApplySetCreatesLists: an override creates a list the file lacks
// (index 0) and appends to it at its length, in order (issue 16).
func TestApplySetCreatesLists(t *testing.T) {
	doc := setDoc(t) // no thresholds, no publish in devices[1], no stages
	for _, arg := range []string{
		"thresholds[0]=e2e.p99 < 50ms",
		"thresholds[1]=lost == 0",
		"devices[1].publish[0].qos=1",
		"devices[1].publish[0].topic=g/${index}",
		"devices[1].publish[0].rate=2/s",
		"devices[gateways].subscribe[0].topic=g/#",
		"devices[2]={name: extra, count: 3}",
		"stages[0].duration=5s",
		"stages[0].target=15",
	} {
		if err := doc.ApplySetArg(arg); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Thresholds) != 2 || s.Thresholds[0].Expr != "e2e.p99 < 50ms" || s.Thresholds[1].Expr != "lost == 0" {
		t.Errorf("thresholds %+v", s.Thresholds)
	}
	g := s.Groups[1]
	if len(g.Publish) != 1 || g.Publish[0].QoS != 1 || g.Publish[0].Topic != "g/${index}" || g.Publish[0].Rate.N != 2 ||
		len(g.Subscribe) != 1 || g.Subscribe[0].Topic != "g/#" {
		t.Errorf("gateways: publish %+v, subscribe %+v", g.Publish, g.Subscribe)
	}
	if len(s.Groups) != 3 || s.Groups[2].Name != "extra" || s.Total() != 15 {
		t.Errorf("groups %d, total %d", len(s.Groups), s.Total())
	}
	if len(s.Stages) != 1 || s.Stages[0].Duration != 5*time.Second || s.Stages[0].Target != 15 {
		t.Errorf("stages %+v", s.Stages)
	}
	// The file's own list is kept, and the override's element follows it.
	if len(s.Groups[0].Publish) != 1 {
		t.Errorf("sensors publish %+v", s.Groups[0].Publish)
	}
}

// TestApplySetListErrors: an index past the end says how many elements
// there are and that indexes are appended in order; a name that is not a
// group's lists the groups; a failed override changes nothing.
func TestApplySetListErrors(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{
		{"thresholds[1]=lost == 0", "--set: thresholds[1]: no element thresholds[1]; thresholds has no elements; " +
			"a new element takes the next index, thresholds[0] (append in order) (from --set thresholds[1]=lost == 0)"},
		{"devices[3].count=5", "--set: devices[3]: no element devices[3]; devices has 2 elements, devices[0] … devices[1]; " +
			"by name: sensors, gateways; a new element takes the next index, devices[2] (append in order)"},
		{"devices[nosuch].count=5", "--set: devices[nosuch]: no element devices[nosuch]; devices has 2 elements, devices[0] … devices[1]; " +
			"by name: sensors, gateways (from --set devices[nosuch].count=5)"},
		{"devices[0].publish[2].qos=1", "no element devices[0].publish[2]; devices[0].publish has 1 element, devices[0].publish[0]; " +
			"a new element takes the next index, devices[0].publish[1] (append in order)"},
		{"stages[0].bogus=1", `--set: stages[0].bogus: no field "bogus" in stage`},
		{"thresholds[0].x=1", "--set: thresholds[0]: thresholds[0] is a value, not a mapping or list"},
	} {
		doc := setDoc(t)
		err := doc.ApplySetArg(tt.arg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got\n%v\nwant\n%s", tt.arg, err, tt.want)
		}
		// Nothing was created: the document validates as the file.
		s, err := doc.Scenario()
		if err != nil {
			t.Fatalf("%s: the failed override changed the document: %v", tt.arg, err)
		}
		if len(s.Thresholds) != 0 || len(s.Stages) != 0 || len(s.Groups) != 2 || len(s.Groups[0].Publish) != 1 {
			t.Errorf("%s: the failed override changed the document: %+v", tt.arg, s)
		}
	}
}

// TestApplySetCreatedElementErrors: an element an override creates is
// validated like any other, and its errors name the override.
func TestApplySetCreatedElementErrors(t *testing.T) {
	doc := setDoc(t)
	if err := doc.ApplySetArg("devices[1].publish[0].qos=1"); err != nil {
		t.Fatal(err)
	}
	_, err := doc.Scenario()
	if err == nil || !strings.Contains(err.Error(), "devices[1].publish[0].topic: required") ||
		!strings.Contains(err.Error(), "(from --set devices[1].publish[0].qos=1)") {
		t.Errorf("got %v", err)
	}
}

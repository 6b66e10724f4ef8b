package scenarios

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary documents to the loader: it must never panic,
// every error must carry a message, and a scenario that loads must expand.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("examples/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range append(seeds, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "---\n---\n", "a: &x [*x]", "<<: 1", "devices: [{<<: [*a]}]",
		"duration: 1s\ndevices: [{name: g, count: 3, device_name: 'd${index:03}'}]\nstages: [{duration: 1s, target: 2}]",
		"duration: !!str 5\ndevices: !!map {}", "seed: 99999999999999999999999", "count: 1e400",
		"devices:\n  - name: g\n    count: 2\n    publish: [{topic: 't/${seq}', rate: 1/s}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			list := Errors(err)
			if len(list) == 0 {
				t.Fatalf("error is not a scenario error: %T %v", err, err)
			}
			for _, e := range list {
				if e.Message == "" || e.Error() == "" {
					t.Fatalf("empty error %+v", e)
				}
				_ = e.Excerpt()
			}
			return
		}
		if s.Total() <= 0 || s.Duration <= 0 {
			t.Fatalf("loaded with %d devices and duration %s", s.Total(), s.Duration)
		}
		n := 0
		for _, p := range s.Range(s.Total()-50, s.Total()) {
			for _, pub := range p.Publishes {
				_ = pub.Payload.AppendTemplate(nil, RuntimeFields{Seq: 1})
			}
			n++
		}
		for _, at := range []time.Duration{0, time.Millisecond, s.Duration / 2, s.Duration, 1 << 62} {
			if tg := s.TargetAt(at); tg < 0 || tg > s.Total() {
				t.Fatalf("TargetAt(%s) = %d of %d", at, tg, s.Total())
			}
			sum := 0
			for _, v := range s.GroupTargetsAt(at, nil) {
				sum += v
			}
			if sum != s.TargetAt(at) {
				t.Fatalf("GroupTargetsAt(%s) sums to %d, TargetAt is %d", at, sum, s.TargetAt(at))
			}
		}
		if n == 0 {
			t.Fatal("no plans")
		}
	})
}

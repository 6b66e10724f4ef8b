package metrics

import (
	"runtime"
	"testing"
)

func TestProcessMonitor(t *testing.T) {
	m := NewProcessMonitor()
	sink := 0
	for i := 0; i < 3e7; i++ { // burn some CPU
		sink += i % 7
	}
	runtime.GC()
	s := m.Sample()
	if s.RSSBytes <= 0 || s.Goroutines <= 0 || s.CPUSeconds <= 0 || s.GCCycles < 1 || s.GCPauseMaxUs <= 0 {
		t.Fatalf("sample %+v (sink %d)", s, sink)
	}
	var sum ProcessSample
	sum.add(&s)
	sum.add(&s)
	if sum.RSSBytes != 2*s.RSSBytes || sum.GCPauseMaxUs != s.GCPauseMaxUs {
		t.Fatalf("merge: %+v", sum)
	}
}

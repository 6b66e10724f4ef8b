package metrics

import (
	"strings"
	"testing"
)

// A run that started fewer devices than its ramp planned does not stand
// for its scenario: the verdict fails with fleet_short (unless the run was
// interrupted or the result is partial, which have their own statuses).
func TestFleetShort(t *testing.T) {
	base := func(started, planned int64) *Result {
		return &Result{PlannedDevices: planned, Totals: Totals{
			Devices: started, ConnectOK: started, SubscribeOK: started, Published: 10, Acked: 10, Expected: 10, Received: 10,
		}}
	}
	for _, tc := range []struct {
		name   string
		r      *Result
		status Status
	}{
		{"reached", base(100, 100), StatusPassed},
		{"short", base(73, 100), StatusFailed},
		{"older result without a plan", base(73, 0), StatusPassed},
		{"interrupted", func() *Result { r := base(73, 100); r.Interrupted = true; return r }(), StatusInterrupted},
		{"partial", func() *Result { r := base(73, 100); r.Partial = true; return r }(), StatusPartial},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.r.Judge(nil)
			if v.Status != tc.status {
				t.Fatalf("status %s, want %s (reasons %+v)", v.Status, tc.status, v.Reasons)
			}
			short := false
			for _, r := range tc.r.Failures() {
				if r.Code == ReasonCodeFleetShort {
					short = true
					if !strings.Contains(r.Message, "73 of 100 devices started") {
						t.Errorf("message %q", r.Message)
					}
				}
			}
			if want := tc.name == "short"; short != want {
				t.Errorf("fleet_short reported %t, want %t", short, want)
			}
		})
	}
}

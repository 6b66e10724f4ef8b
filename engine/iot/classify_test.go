package iot

import "testing"

// TestClassify: the platform classifications of MQTT 5 reason codes, by
// code and by the name ReasonName gives.
func TestClassify(t *testing.T) {
	for code := 0; code < 256; code++ {
		want := ""
		switch code {
		case 0x96:
			want = RateLimited
		case 0x97:
			want = QuotaExceeded
		case 0x8E:
			want = KickedDuplicateID
		}
		if got := Classify(byte(code)); got != want {
			t.Errorf("Classify(0x%02x) = %q, want %q", code, got, want)
		}
		if got := ClassifyName(ReasonName(byte(code))); got != want {
			t.Errorf("ClassifyName(%q) = %q, want %q", ReasonName(byte(code)), got, want)
		}
	}
	if ClassifyName("") != "" {
		t.Error("an empty reason has no classification")
	}
}

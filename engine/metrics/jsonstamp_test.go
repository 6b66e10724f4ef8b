package metrics

import (
	"errors"
	"testing"
)

func TestDecodeJSONStamp(t *testing.T) {
	keys := JSONStampKeys{Seq: "id", TS: "ts", Publisher: "pub", Stream: "stream"}
	tests := []struct {
		payload string
		want    Stamp
		ok      bool
	}{
		{`{"id":"42","deviceName":"meter-0001","ts":123456789,"pub":7,"params":{"power":12.5,"s":"}"}}`, Stamp{Seq: 42, Intended: 123456789, Publisher: 7}, true},
		{` { "pub" : 9 , "ts": -5, "id": 1, "stream": "3", "x": [1, {"a": "]"}] } `, Stamp{Seq: 1, Intended: -5, Publisher: 9, Stream: 3}, true},
		{`{"id":"42","ts":1}`, Stamp{}, false},        // no publisher
		{`{"id":"x","ts":1,"pub":2}`, Stamp{}, false}, // not a number
		{`{"message":"hello!"}`, Stamp{}, false},      // foreign
		{`[1,2,3]`, Stamp{}, false},                   // not an object
		{`{"id":1,"ts":2,"pub":3`, Stamp{}, false},    // truncated
		{`{"id":1,"ts":2,"pub":3,"nest":{"a":{"b":"\"}"}}}`, Stamp{Seq: 1, Intended: 2, Publisher: 3}, true},
	}
	for _, tt := range tests {
		got, err := DecodeJSONStamp([]byte(tt.payload), keys)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v ok=%v", tt.payload, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrForeign) {
			t.Errorf("%s: error %v is not ErrForeign", tt.payload, err)
		}
	}
}

func TestDecodeJSONStampAllocs(t *testing.T) {
	p := []byte(`{"id":"42","deviceName":"meter-0001","ts":123456789,"pub":7,"params":{"power":12.5}}`)
	keys := JSONStampKeys{Seq: "id", TS: "ts", Publisher: "pub"}
	if n := testing.AllocsPerRun(100, func() { DecodeJSONStamp(p, keys) }); n != 0 {
		t.Fatalf("DecodeJSONStamp allocates %v times", n)
	}
}

func FuzzDecodeJSONStamp(f *testing.F) {
	f.Add([]byte(`{"id":"42","ts":1,"pub":2,"x":[{"y":"}"}]}`))
	f.Add([]byte(`{"id":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeJSONStamp(b, JSONStampKeys{Seq: "id", TS: "ts", Publisher: "pub", Stream: "s"})
	})
}

func BenchmarkDecodeJSONStamp(b *testing.B) {
	p := []byte(`{"id":"42","deviceName":"meter-0001","ts":123456789,"pub":7,"stream":0,"params":{"power":12.5}}`)
	keys := JSONStampKeys{Seq: "id", TS: "ts", Publisher: "pub", Stream: "stream"}
	b.ReportAllocs()
	for b.Loop() {
		DecodeJSONStamp(p, keys)
	}
}

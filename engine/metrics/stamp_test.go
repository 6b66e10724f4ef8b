package metrics

import (
	"errors"
	"testing"
)

func TestStampRoundTrip(t *testing.T) {
	for _, size := range []int{0, StampSize, 64, 1024} {
		s := Stamp{Stream: 3, Publisher: 123456, Seq: 0xfffffffe, Intended: 1_234_567_890_123}
		b := AppendStamp(nil, s, size)
		if want := max(size, StampSize); len(b) != want {
			t.Fatalf("size %d: payload is %d bytes, want %d", size, len(b), want)
		}
		got, err := DecodeStamp(b)
		if err != nil || got != s {
			t.Fatalf("size %d: decoded %+v, %v; want %+v", size, got, err, s)
		}
	}
}

func TestStampForeign(t *testing.T) {
	good := AppendStamp(nil, Stamp{Publisher: 1}, 32)
	for name, p := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:StampSize-1],
		"json":      []byte(`{"message":"hello!","n":1234567890}`),
		"version":   append([]byte{'f', 'B', 9}, good[3:]...),
	} {
		if _, err := DecodeStamp(p); !errors.Is(err, ErrForeign) {
			t.Errorf("%s: err = %v, want ErrForeign", name, err)
		}
	}
}

func FuzzDecodeStamp(f *testing.F) {
	f.Add(AppendStamp(nil, Stamp{Stream: 1, Publisher: 2, Seq: 3, Intended: 4}, 24))
	f.Add([]byte("fB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeStamp(b)
		if err != nil {
			return
		}
		again, err := DecodeStamp(AppendStamp(nil, s, len(b)))
		if err != nil || again != s {
			t.Fatalf("re-encoding %+v gave %+v, %v", s, again, err)
		}
	})
}

func BenchmarkStamp(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendStamp(buf[:0], Stamp{Stream: 1, Publisher: 42, Seq: 7, Intended: 99}, 64)
		}
	})
	b.Run("decode", func(b *testing.B) {
		p := AppendStamp(nil, Stamp{Stream: 1, Publisher: 42, Seq: 7, Intended: 99}, 64)
		b.ReportAllocs()
		for b.Loop() {
			DecodeStamp(p)
		}
	})
}

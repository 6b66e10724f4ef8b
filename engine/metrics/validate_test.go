package metrics

import (
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hostileResults are result.json documents a report must refuse cleanly.
var hostileResults = []struct{ name, doc, want string }{
	{"negative total", `{"schema":"fleetbench.result/v1","totals":{"published":-1}}`,
		"metrics: decode result: totals.published is negative (-1)"},
	{"min int64", `{"schema":"fleetbench.result/v1","totals":{"received":-9223372036854775808}}`,
		"metrics: decode result: totals.received is negative (-9223372036854775808)"},
	{"max int64", `{"schema":"fleetbench.result/v1","totals":{"lost":9223372036854775807}}`,
		"metrics: decode result: totals.lost is 9223372036854775807, beyond the bound of 9007199254740992"},
	{"group sum", `{"schema":"fleetbench.result/v1","groups":[` + strings.Repeat(`{"name":"g","published":9007199254740992},`, 1100) + `{"name":"h"}]}`,
		"metrics: decode result: the sum of groups[*].published overflows int64"},
	{"reason map", `{"schema":"fleetbench.result/v1","connect_failed_by_reason":{"refused":-5}}`,
		"metrics: decode result: connect_failed_by_reason[refused] is negative (-5)"},
	{"by qos", `{"schema":"fleetbench.result/v1","by_qos":{"1":{"lost":-2}}}`,
		"metrics: decode result: by_qos[1].lost is negative (-2)"},
	{"node series", `{"schema":"fleetbench.result/v1","nodes":[{"name":"a","series":[{"t":-1}]}]}`,
		"metrics: decode result: nodes[0].series[0].t is negative (-1)"},
	{"series point", `{"schema":"fleetbench.result/v1","series":[{"t":1,"published":-7}]}`,
		"metrics: decode result: series[0].published is negative (-7)"},
	{"broker", `{"schema":"fleetbench.result/v1","broker":{"messages_dropped":-1}}`,
		"metrics: decode result: broker.messages_dropped is negative (-1)"},
}

func TestUnmarshalResultHostile(t *testing.T) {
	for _, c := range hostileResults {
		t.Run(c.name, func(t *testing.T) {
			_, err := UnmarshalResult([]byte(c.doc))
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
	// Signed fields stay accepted.
	ok := `{"schema":"fleetbench.result/v1","meta":{"seed":-3},"nodes":[{"name":"a","clock_offset_us":-250}]}`
	if _, err := UnmarshalResult([]byte(ok)); err != nil {
		t.Fatalf("negative clock offset refused: %v", err)
	}
}

// TestDecodeResultBounded reads /dev/zero: the read stops at the limit
// (8 MiB here; DecodeResult uses MaxResultSize, 256 MiB, the same way):
// under 5× the limit allocated (io.ReadAll's growth) and well under a second.
func TestDecodeResultBounded(t *testing.T) {
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = decodeResult(f, 8<<20)
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("/dev/zero: %v, %d MiB allocated", el, alloc>>20)
	if err == nil || !strings.Contains(err.Error(), "larger than the limit of 8 MiB") {
		t.Fatalf("got %v", err)
	}
	if alloc > 5*8<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	if el > time.Second {
		t.Errorf("took %v", el)
	}
	var _ io.Reader = f
}

package scenarios

import (
	"fmt"
	"runtime"
	"testing"
)

// fleet100k is a 100,000-device scenario of two groups: each device has two
// subscriptions and two publications with per-device topics.
const fleet100k = `name: bench
duration: 10m
devices:
  - name: meters
    count: 90000
    auth: alibaba
    product_key: a1BenchProd
    device_secret: secret-${index}
    device_name: meter-${index:06}
    subscribe:
      - {topic: "/${productKey}/${deviceName}/user/get", qos: 1}
      - {topic: "/sys/${productKey}/${deviceName}/thing/service/+", qos: 0}
    publish:
      - {topic: "/${productKey}/${deviceName}/user/update", qos: 1, interval: 10s}
      - topic: /sys/${productKey}/${deviceName}/thing/event/property/post
        rate: 1/m
        payload: {template: '{"id":"${seq}","ts":${ts},"pub":${publisher},"dn":"${deviceName}"}'}
  - name: phones
    count: 10000
    username: phone-${index}
    password: pw
    subscribe:
      - {topic: "fleet/${clientId}/#", qos: 1}
    publish:
      - {topic: "fleet/${clientId}/status", qos: 0, rate: 1/s}
`

func benchScenario(tb testing.TB) *Scenario {
	tb.Helper()
	s, err := Parse("bench.yaml", []byte(fleet100k))
	if err != nil {
		tb.Fatal(err)
	}
	if s.Total() != 100_000 {
		tb.Fatalf("total %d", s.Total())
	}
	return s
}

// BenchmarkDevices100k expands 100,000 device plans per op and reports the
// cost per device.
func BenchmarkDevices100k(b *testing.B) {
	s := benchScenario(b)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ops := 0
	for b.Loop() {
		n := 0
		for _, p := range s.Devices() {
			n += len(p.ClientID) + len(p.Subscriptions)
		}
		if n == 0 {
			b.Fatal("no plans")
		}
		ops++
	}
	runtime.ReadMemStats(&after)
	devices := float64(ops) * float64(s.Total())
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/devices, "allocs/device")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/devices, "B/device")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/devices, "ns/device")
}

// BenchmarkLoad100k measures loading and validating the 100k scenario
// (expansion is lazy, so this does not depend on the device count).
func BenchmarkLoad100k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchScenario(b)
	}
}

// TestPlanAllocs guards the per-device allocation budget: one string for
// all names and topics, one subscription slice, one publication slice.
func TestPlanAllocs(t *testing.T) {
	s := benchScenario(t)
	var b planBuf
	for _, g := range s.Groups {
		g.plan(0, &b) // grow the scratch buffers
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			g.plan(i%g.Count, &b)
			i++
		})
		if allocs > 3 {
			t.Errorf("group %s: %.1f allocations per plan, want ≤ 3", g.Name, allocs)
		}
	}
}

func ExampleScenario_Devices() {
	s, err := Parse("fleet.yaml", []byte(`
duration: 1m
devices:
  - name: sensors
    count: 3
    product_key: a1Demo
    device_name: sensor-${index:03}
    subscribe:
      - {topic: "/${productKey}/${deviceName}/user/get", qos: 1}
    publish:
      - {topic: "/${productKey}/${deviceName}/user/get", qos: 1, rate: 1/s}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, p := range s.Devices() {
		fmt.Println(i, p.ClientID, p.Subscriptions[0].Filter, p.Publishes[0].Interval)
	}
	// Output:
	// 0 a1Demo.sensor-000 /a1Demo/sensor-000/user/get 1s
	// 1 a1Demo.sensor-001 /a1Demo/sensor-001/user/get 1s
	// 2 a1Demo.sensor-002 /a1Demo/sensor-002/user/get 1s
}

func ExampleParse_errors() {
	_, err := Parse("quick.yaml", []byte(`duration: 30s
devices:
  - name: sensors
    cuont: 100
    publish:
      - {topic: "a/${idx}", qos: 3, rate: 1/s}
`))
	for _, e := range Errors(err) {
		fmt.Println(e)
	}
	// Output:
	// quick.yaml:4:5: devices[0].cuont: unknown field "cuont" in device group; did you mean "count"?
	// quick.yaml:6:20: devices[0].publish[0].topic: unknown placeholder ${idx}; did you mean ${index}?
	// quick.yaml:6:34: devices[0].publish[0].qos: 3 is not a QoS (want 0, 1 or 2)
}

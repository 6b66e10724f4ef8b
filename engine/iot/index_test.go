package iot

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// bruteCount is the definition TopicIndex must agree with.
func bruteCount(filters []string, qoss []QoS, topic string, pub QoS) [3]int {
	var out [3]int
	for i, f := range filters {
		if Match(f, topic) {
			out[min(qoss[i], pub)]++
		}
	}
	return out
}

func TestTopicIndexAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	levels := []string{"", "a", "b", "pk", "dn", "$SYS"}
	randTopic := func() string {
		n := 1 + r.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = levels[r.IntN(len(levels))]
		}
		return strings.Join(parts, "/")
	}
	randFilter := func() string {
		parts := strings.Split(randTopic(), "/")
		for i := range parts {
			if r.IntN(4) == 0 {
				parts[i] = "+"
			}
		}
		if r.IntN(3) == 0 {
			parts = append(parts, "#")
		}
		if r.IntN(10) == 0 {
			parts = []string{"#"}
		}
		return strings.Join(parts, "/")
	}
	var filters []string
	var qoss []QoS
	var x TopicIndex
	for i := 0; i < 400; i++ {
		f, q := randFilter(), QoS(r.IntN(3))
		filters, qoss = append(filters, f), append(qoss, q)
		x.Add(f, q)
	}
	if x.Len() != 400 {
		t.Fatalf("Len = %d", x.Len())
	}
	for i := 0; i < 3000; i++ {
		topic, pub := randTopic(), QoS(r.IntN(3))
		if got, want := x.Count(topic, pub), bruteCount(filters, qoss, topic, pub); got != want {
			t.Fatalf("Count(%q, qos %d) = %v, brute force %v", topic, pub, got, want)
		}
	}
}

func TestTopicIndexFleet(t *testing.T) {
	var x TopicIndex
	for i := 0; i < 100; i++ {
		x.Add(fmt.Sprintf("/pk/dev-%d/user/get", i), QoS1) // self round trip
	}
	x.Add("/pk/+/user/get", QoS0) // a cloud consumer at QoS 0
	x.Add("/pk/#", QoS2)          // and one at QoS 2
	if got := x.Count("/pk/dev-7/user/get", QoS1); got != [3]int{1, 2, 0} {
		t.Fatalf("count = %v, want [1 2 0]", got)
	}
	if got := x.Count("/pk", QoS2); got != [3]int{0, 0, 1} {
		t.Fatalf("'/pk/#' must match '/pk': %v", got)
	}
}

func BenchmarkTopicIndex(b *testing.B) {
	var x TopicIndex
	for i := 0; i < 10000; i++ {
		x.Add(fmt.Sprintf("/a1X2bEnP82z/device-%06d/user/get", i), QoS1)
	}
	x.Add("/a1X2bEnP82z/+/user/get", QoS1)
	b.ReportAllocs()
	for b.Loop() {
		x.Count("/a1X2bEnP82z/device-000123/user/get", QoS1)
	}
}

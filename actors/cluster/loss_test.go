package cluster

import (
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// TestClusterLossByPublisherNode: loss is closed publisher node by
// publisher node, so deliveries of a lost node's last, unreported second
// do not hide real loss elsewhere.
func TestClusterLossByPublisherNode(t *testing.T) {
	const q = 1
	from := func(a, b int64) []int64 {
		r := make([]int64, 2*metrics.NumQoS)
		r[0*metrics.NumQoS+q], r[1*metrics.NumQoS+q] = a, b
		return r
	}
	a := &clusterNode{ClusterNode: ClusterNode{Name: "a"}, receivedFrom: from(60, 50)}
	a.last.QoS[metrics.Expected][q] = 100 // a's publishers, to consumers on a and b
	a.last.QoS[metrics.Received][q] = 110
	b := &clusterNode{ClusterNode: ClusterNode{Name: "b"}, receivedFrom: from(30, 0), state: nodeGone}
	b.last.QoS[metrics.Expected][q] = 40 // b reported 40 before it died, but a received 50 of b's
	b.last.QoS[metrics.Received][q] = 30
	c := &cluster{nodes: []*clusterNode{a, b}}
	cnt := c.counts()
	c.closeLoss(&cnt)
	// a's messages: 100 expected, 60 + 30 delivered → 10 lost (those to b
	// after it died). b's: 50 delivered of 40 reported → 10 unreported,
	// none lost.
	if got := cnt.QoS[metrics.Lost][q]; got != 10 {
		t.Fatalf("lost %d, want 10 (a fleet-wide difference would say 0: 140 expected, 140 received)", got)
	}
	if got := cnt.QoS[metrics.Expected][q]; got != 150 || b.unreported != 10 || a.unreported != 0 {
		t.Fatalf("expected %d (want 150), unreported a %d b %d", got, a.unreported, b.unreported)
	}
}

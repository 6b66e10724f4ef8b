package cluster

import (
	"strings"
	"testing"
)

// TestPartition: every group is split into contiguous ranges that cover it
// exactly, sized by CPU weight (largest remainder), and a node's open-files
// limit is respected.
func TestPartition(t *testing.T) {
	sc := loadExample(t, "fan-in.yaml", "devices[devices].count=1001")
	nodes := []*planned{
		{ClusterNode: ClusterNode{Name: "a"}, cpus: 2},
		{ClusterNode: ClusterNode{Name: "b"}, cpus: 4},
		{ClusterNode: ClusterNode{Name: "c"}, cpus: 2},
	}
	if err := partition(sc, nodes); err != nil {
		t.Fatal(err)
	}
	for gi, g := range sc.Groups {
		lo := 0
		for _, n := range nodes {
			s := n.Share[gi]
			if s.Lo != lo || s.Hi < s.Lo {
				t.Fatalf("group %s: node %s has %v after %d", g.Name, n.Name, s, lo)
			}
			lo = s.Hi
		}
		if lo != g.Count {
			t.Fatalf("group %s: ranges cover %d of %d", g.Name, lo, g.Count)
		}
	}
	// 1,001 devices over weights 2:4:2 → 250.25, 500.5, 250.25: the
	// largest remainder goes to b.
	if got := []int{nodes[0].Share[1].Len(), nodes[1].Share[1].Len(), nodes[2].Share[1].Len()}; got[0] != 250 || got[1] != 501 || got[2] != 250 {
		t.Fatalf("devices split %v, want [250 501 250]", got)
	}
	// 2 consumers over 0.5, 1, 0.5: b gets its whole one, and the tie of
	// remainders between a and c goes to the earlier node.
	if got := []int{nodes[0].Share[0].Len(), nodes[1].Share[0].Len(), nodes[2].Share[0].Len()}; got[0] != 1 || got[1] != 1 || got[2] != 0 {
		t.Fatalf("consumers split %v, want [1 1 0]", got)
	}
	nodes[1].max = 100
	if err := partition(sc, nodes); err == nil || !strings.Contains(err.Error(), "node b can hold 100 devices") {
		t.Fatalf("err = %v", err)
	}
}

// TestCoordinatorReachable: a coordinator on loopback cannot serve workers
// on other machines; it says so before dialling anything.
func TestCoordinatorReachable(t *testing.T) {
	for _, tc := range []struct {
		listen, advertise string
		workers           []string
		ok                bool
	}{
		{"127.0.0.1:0", "", []string{"127.0.0.1:7946", "localhost:7947"}, true},
		{"127.0.0.1:0", "", []string{"127.0.0.1:7946", "10.0.0.11:7946"}, false},
		{"10.0.0.10:7950", "", []string{"10.0.0.11:7946"}, true},
		{"0.0.0.0:7950", "10.0.0.10:7950", []string{"10.0.0.11:7946"}, true},
		{"0.0.0.0:7950", "127.0.0.1:7950", []string{"worker-2:7946"}, false},
	} {
		err := reachableFromWorkers(&Distribution{Workers: tc.workers, Remote: RemoteOptions{Listen: tc.listen, Advertise: tc.advertise}})
		if (err == nil) != tc.ok {
			t.Errorf("listen %s advertise %q workers %v: err = %v", tc.listen, tc.advertise, tc.workers, err)
		}
	}
}

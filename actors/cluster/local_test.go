package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLocalWorkersFor(t *testing.T) {
	for _, tc := range []struct {
		devices int
		limit   uint64
		want    int
	}{
		{1000, 20000, 0},   // fits in one process
		{19488, 20000, 0},  // exactly: 512 files of room
		{19489, 20000, 2},  // one more device than fits
		{50000, 20000, 3},  // the soak budget on this machine: 19,488 each
		{100000, 20000, 6}, // 6 × 19,488 = 116,928
		{10, 100, 0},       // a limit too small to hold anything: no workers help
	} {
		if got := LocalWorkersFor(tc.devices, tc.limit); got != tc.want {
			t.Errorf("LocalWorkersFor(%d, %d) = %d, want %d", tc.devices, tc.limit, got, tc.want)
		}
	}
}

// A program that ends without listening is reported at once, naming it;
// nothing is left running.
func TestStartLocalWorkerEndsEarly(t *testing.T) {
	start := time.Now()
	_, err := StartLocal(context.Background(), LocalOptions{N: 2, Executable: "/bin/false", StartTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "ended before it listened") {
		t.Fatalf("err %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("took %v: the early end was not noticed", took)
	}
}

// A program that never listens is stopped after the start timeout.
func TestStartLocalTimeout(t *testing.T) {
	silent := filepath.Join(t.TempDir(), "silent")
	if err := os.WriteFile(silent, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := StartLocal(context.Background(), LocalOptions{N: 1, Executable: silent, StartTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not all 1 listened within 200ms") {
		t.Fatalf("err %v", err)
	}
	// StartLocal returns after it killed and reaped the silent worker.
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("took %v", took)
	}
}

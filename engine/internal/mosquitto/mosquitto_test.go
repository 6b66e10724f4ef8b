package mosquitto

import (
	"net"
	"testing"
	"time"
)

func TestStartStopRestart(t *testing.T) {
	b := Start(t, Options{})
	dial := func() error {
		c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("broker not listening: %v", err)
	}
	b.Kill()
	if err := dial(); err == nil {
		t.Fatal("broker still listening after Kill")
	}
	b.Restart()
	if err := dial(); err != nil {
		t.Fatalf("broker not listening after Restart: %v", err)
	}
}

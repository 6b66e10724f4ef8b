package actors

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

func TestFailReason(t *testing.T) {
	tests := []struct {
		err  error
		want metrics.FailReason
	}{
		{fmt.Errorf("x: %w", iot.ErrNotAuthorized), metrics.ReasonRefusedAuth},
		{fmt.Errorf("x: %w", iot.ErrConnectRefused), metrics.ReasonRefusedOther},
		{fmt.Errorf("x: %w", iot.ErrConnectTimeout), metrics.ReasonTimeout},
		{context.DeadlineExceeded, metrics.ReasonTimeout},
		{fmt.Errorf("hal: tls handshake with x: %w", x509.UnknownAuthorityError{}), metrics.ReasonTLS},
		{errors.New("network Error : remote error: tls: certificate required"), metrics.ReasonTLS},
		{&net.DNSError{Err: "no such host", Name: "nowhere.invalid"}, metrics.ReasonDNS},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, metrics.ReasonNetwork},
		{errors.New("something else"), metrics.ReasonOther},
	}
	for _, tt := range tests {
		if got := failReason(tt.err); got != tt.want {
			t.Errorf("failReason(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

//go:build !linux

package hal

import "net"

// queued cannot tell the bytes waiting in the kernel here.
func queued(net.Conn) int { return -1 }

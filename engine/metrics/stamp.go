package metrics

import (
	"encoding/binary"
	"errors"
)

// StampSize is the size of the binary measurement stamp at the start of
// every payload fleetbench publishes.
const StampSize = 20

// stampMagic opens every stamp ("fB").
const (
	stampMagic0  = 'f'
	stampMagic1  = 'B'
	stampVersion = 1
)

// Stamp is what a published payload carries so its receiver can measure
// end-to-end latency and account for loss, duplicates and order.
//
// Binary layout (big endian), StampSize bytes, then padding to the
// configured payload size:
//
//	0  2  magic "fB"
//	2  1  version (1)
//	3  1  stream: the index of the publish entry within its device
//	4  4  publisher: the global index of the publishing device
//	8  4  sequence number within (publisher, stream), from 0
//	12 8  intended send time, ns since the node's run epoch (monotonic)
type Stamp struct {
	Stream    uint8
	Publisher uint32
	Seq       uint32
	// Intended is the intended send time in nanoseconds since the run
	// epoch of the publishing node.
	Intended int64
}

// ErrForeign reports a payload without a valid stamp (published by
// something other than fleetbench, or truncated).
var ErrForeign = errors.New("metrics: payload carries no fleetbench stamp")

// AppendStamp appends the stamp and zero padding up to size bytes (at least
// StampSize) to dst.
func AppendStamp(dst []byte, s Stamp, size int) []byte {
	size = max(size, StampSize)
	dst = append(dst, stampMagic0, stampMagic1, stampVersion, s.Stream)
	dst = binary.BigEndian.AppendUint32(dst, s.Publisher)
	dst = binary.BigEndian.AppendUint32(dst, s.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.Intended))
	for i := StampSize; i < size; i++ {
		dst = append(dst, 0)
	}
	return dst
}

// DecodeStamp reads the stamp at the start of payload. Any payload that
// does not start with a stamp gives ErrForeign; it never panics.
func DecodeStamp(payload []byte) (Stamp, error) {
	if len(payload) < StampSize || payload[0] != stampMagic0 || payload[1] != stampMagic1 || payload[2] != stampVersion {
		return Stamp{}, ErrForeign
	}
	return Stamp{
		Stream:    payload[3],
		Publisher: binary.BigEndian.Uint32(payload[4:]),
		Seq:       binary.BigEndian.Uint32(payload[8:]),
		Intended:  int64(binary.BigEndian.Uint64(payload[12:])),
	}, nil
}

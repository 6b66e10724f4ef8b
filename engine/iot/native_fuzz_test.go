package iot

import (
	"bufio"
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// FuzzNativeSession feeds arbitrary bytes from a "broker" through the
// native session's framing (bounded by the maximum packet size) and its
// packet handling, at both protocol versions: nothing may panic, allocate
// beyond the bound, or leave the session inconsistent.
func FuzzNativeSession(f *testing.F) {
	enc := func(pk packets.Packet, fn func(*packets.Packet, *bytes.Buffer) error) []byte {
		var b bytes.Buffer
		fn(&pk, &b)
		return b.Bytes()
	}
	pub := enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 7, TopicName: "/a/b", Payload: []byte("x")}, (*packets.Packet).PublishEncode)
	ack := enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: 1}, (*packets.Packet).PubackEncode)
	sub := enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Suback}, PacketID: 2, ReasonCodes: []byte{1}}, (*packets.Packet).SubackEncode)
	f.Add(append(append(pub, ack...), sub...), false)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}, false)
	f.Add([]byte{0x62, 0x02, 0x00, 0x07, 0x70, 0x02, 0x00, 0x01}, true)
	f.Add([]byte{0xe0, 0x02, 0x8e, 0x00}, true)
	f.Fuzz(func(t *testing.T, data []byte, v5 bool) {
		h := &nativeHandle{p: Params{MaxPacketSize: 4096, Version: MQTT311}, prof: profile320, ready: make(chan struct{}, 1)}
		h.p.applyDefaults()
		h.p.MaxPacketSize = 4096
		if v5 {
			h.p.Version = MQTT5
		}
		h.clock = h.p.Clock
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		h.conn = &connReader{Conn: c1, br: bufio.NewReader(c1)}
		h.pending = []outbound{{pid: 1, qos: QoS1, topic: "/t", payload: []byte("p")}}
		h.requests = []request{{id: 2, filter: "/a/#", qos: QoS1, sent: time.Now()}}
		h.subs = []subscription{{filter: "/a/#", match: "/a/#", qos: QoS1, handler: func(*Handle, *Event) {}}}
		r := &connReader{br: bufio.NewReader(bytes.NewReader(data))}
		for i := 0; i < 64; i++ {
			typ, flags, body, err := r.read(h.p.MaxPacketSize)
			if err != nil {
				return // the end of the data, or a framing error that ends the connection
			}
			if len(body) > h.p.MaxPacketSize {
				t.Fatalf("a %d-byte body past a %d limit", len(body), h.p.MaxPacketSize)
			}
			if err := h.packet(&inbound{typ: typ, flags: flags, body: body, at: time.Now()}); err != nil {
				return // a protocol breach ends the connection
			}
			for j := range h.events {
				h.dispatch(&h.events[j])
			}
			h.events = nil
			if h.w.Len() > 1<<20 {
				t.Fatalf("write batch grew to %d bytes", h.w.Len())
			}
		}
	})
}

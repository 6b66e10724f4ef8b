package iot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// stream encodes a sequence of packets the parser must follow, with the
// frames it must report.
func testStream(t testing.TB) ([]byte, []string) {
	var buf bytes.Buffer
	var want []string
	write := func(p packets.ControlPacket, frame string) {
		if err := p.Write(&buf); err != nil {
			t.Fatal(err)
		}
		if frame != "" {
			want = append(want, frame)
		}
	}
	pub := func(topic string, qos byte, id uint16, size int) *packets.PublishPacket {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName, p.Qos, p.MessageID, p.Payload = topic, qos, id, bytes.Repeat([]byte{0x30}, size)
		return p
	}
	write(packets.NewControlPacket(packets.Connack), "connack rc=0")
	ca := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	ca.ReturnCode = 200
	write(ca, "connack rc=200")
	write(pub("/pk/dn/user/get", 0, 0, 5), "publish tl=15 pid=0 qos=0")
	write(pub("/pk/dn/user/get", 1, 7, 300), "publish tl=15 pid=7 qos=1")
	write(pub(strings.Repeat("t", 200), 2, 65535, 20000), "publish tl=200 pid=65535 qos=2")
	pa := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
	pa.MessageID = 513
	write(pa, "puback pid=513")
	pc := packets.NewControlPacket(packets.Pubcomp).(*packets.PubcompPacket)
	pc.MessageID = 2
	write(pc, "pubcomp pid=2")
	write(packets.NewControlPacket(packets.Pingresp), "")
	sa := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
	sa.MessageID, sa.ReturnCodes = 9, []byte{1, 0x80}
	write(sa, "suback pid=9 nack=true")
	sa2 := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
	sa2.MessageID, sa2.ReturnCodes = 10, []byte{2}
	write(sa2, "suback pid=10 nack=false")
	ua := packets.NewControlPacket(packets.Unsuback).(*packets.UnsubackPacket)
	ua.MessageID = 11
	write(ua, "unsuback pid=11")
	sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sub.MessageID, sub.Topics, sub.Qoss = 12, []string{"/a/#"}, []byte{1}
	write(sub, "subscribe pid=12 filter=/a/#")
	un := packets.NewControlPacket(packets.Unsubscribe).(*packets.UnsubscribePacket)
	un.MessageID, un.Topics = 13, []string{"/x/+/y"}
	write(un, "unsubscribe pid=13 filter=/x/+/y")
	return buf.Bytes(), want
}

func describe(f *frame) string {
	switch f.typ {
	case pktConnack:
		return fmt.Sprintf("connack rc=%d", f.rc)
	case pktPublish:
		return fmt.Sprintf("publish tl=%d pid=%d qos=%d", f.topicLen, f.pid, (f.flags>>1)&3)
	case pktPuback:
		return fmt.Sprintf("puback pid=%d", f.pid)
	case pktPubcomp:
		return fmt.Sprintf("pubcomp pid=%d", f.pid)
	case pktSuback:
		return fmt.Sprintf("suback pid=%d nack=%v", f.pid, f.nack)
	case pktUnsuback:
		return fmt.Sprintf("unsuback pid=%d", f.pid)
	case pktSubscribe:
		return fmt.Sprintf("subscribe pid=%d filter=%s", f.pid, f.filter)
	case pktUnsubscribe:
		return fmt.Sprintf("unsubscribe pid=%d filter=%s", f.pid, f.filter)
	}
	return fmt.Sprintf("type %d", f.typ)
}

func TestWireParserChunkings(t *testing.T) {
	data, want := testStream(t)
	r := rand.New(rand.NewPCG(1, 2))
	chunkers := map[string]func() int{
		"whole":  func() int { return len(data) },
		"bytes":  func() int { return 1 },
		"random": func() int { return 1 + r.IntN(700) },
	}
	for name, next := range chunkers {
		t.Run(name, func(t *testing.T) {
			var got []string
			p := wireParser{emit: func(f *frame) { got = append(got, describe(f)) }}
			for rest := data; len(rest) > 0; {
				n := min(next(), len(rest))
				p.feed(rest[:n])
				rest = rest[n:]
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func FuzzWireParser(f *testing.F) {
	data, _ := testStream(f)
	f.Add(data)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x90, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := wireParser{emit: func(f *frame) {
			if len(f.filter) > maxFilterCapture {
				t.Fatalf("captured %d filter bytes", len(f.filter))
			}
		}}
		p.feed(b)
		p.feed(b)
	})
}

func BenchmarkWireParserPublish(b *testing.B) {
	var buf bytes.Buffer
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Qos, p.MessageID, p.Payload = "/a1X2bEnP82z/device-000123/user/get", 1, 77, make([]byte, 64)
	p.Write(&buf)
	data := buf.Bytes()
	w := wireParser{emit: func(*frame) {}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		w.feed(data)
	}
}

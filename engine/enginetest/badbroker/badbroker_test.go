package badbroker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// readTimeout bounds every read a test expects to succeed.
const readTimeout = 5 * time.Second

// silence is how long a test waits to conclude that nothing is coming.
const silence = 300 * time.Millisecond

// start runs a broker with beh for the test.
func start(t *testing.T, beh Behaviour) *Broker {
	t.Helper()
	b, err := Start(beh)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// client is a minimal raw MQTT 3.1.1 client.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
	id uint16
}

// dial opens a TCP connection to b without sending anything.
func dial(t *testing.T, b *Broker) *client {
	t.Helper()
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// connect dials b, sends CONNECT and expects a CONNACK with code.
func connect(t *testing.T, b *Broker, code byte) *client {
	t.Helper()
	c := dial(t, b)
	c.sendConnect()
	ack := c.expect(packets.Connack)
	if ack.ReasonCode != code {
		t.Fatalf("CONNACK code = %d, want %d", ack.ReasonCode, code)
	}
	return c
}

func (c *client) nextID() uint16 {
	c.id++
	return c.id
}

// send encodes pk with encode and writes it.
func (c *client) send(pk packets.Packet, encode func(*packets.Packet, *bytes.Buffer) error) {
	c.t.Helper()
	pk.ProtocolVersion = 4
	var buf bytes.Buffer
	if err := encode(&pk, &buf); err != nil {
		c.t.Fatalf("encode %d: %v", pk.FixedHeader.Type, err)
	}
	c.write(buf.Bytes())
}

func (c *client) write(p []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(readTimeout))
	if _, err := c.nc.Write(p); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendConnect() {
	c.t.Helper()
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            true,
			Keepalive:        30,
			ClientIdentifier: c.t.Name(),
		},
	}, (*packets.Packet).ConnectEncode)
}

// subscribe sends a SUBSCRIBE for one filter and returns its packet id.
func (c *client) subscribe(filter string, qos byte) uint16 {
	c.t.Helper()
	id := c.nextID()
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		PacketID:    id,
		Filters:     packets.Subscriptions{{Filter: filter, Qos: qos}},
	}, (*packets.Packet).SubscribeEncode)
	return id
}

// subscribed subscribes and expects a SUBACK granting want.
func (c *client) subscribed(filter string, qos, want byte) {
	c.t.Helper()
	id := c.subscribe(filter, qos)
	ack := c.expect(packets.Suback)
	if ack.PacketID != id || !bytes.Equal(ack.ReasonCodes, []byte{want}) {
		c.t.Fatalf("SUBACK id %d codes %v, want id %d codes [%d]", ack.PacketID, ack.ReasonCodes, id, want)
	}
}

// publish sends a PUBLISH with packet id id (ignored at QoS 0).
func (c *client) publish(topic, payload string, qos byte, id uint16) {
	c.t.Helper()
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:   topic,
		Payload:     []byte(payload),
	}
	if qos > 0 {
		pk.PacketID = id
	}
	c.send(pk, (*packets.Packet).PublishEncode)
}

// ack sends the acknowledgement of type typ for id.
func (c *client) ack(typ byte, id uint16) {
	c.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, PacketID: id}
	enc := map[byte]func(*packets.Packet, *bytes.Buffer) error{
		packets.Puback:  (*packets.Packet).PubackEncode,
		packets.Pubrec:  (*packets.Packet).PubrecEncode,
		packets.Pubrel:  (*packets.Packet).PubrelEncode,
		packets.Pubcomp: (*packets.Packet).PubcompEncode,
	}[typ]
	if typ == packets.Pubrel {
		pk.FixedHeader.Qos = 1
	}
	c.send(pk, enc)
}

// ping sends PINGREQ and expects PINGRESP as the very next packet, which
// proves that nothing else was written before it.
func (c *client) ping() {
	c.t.Helper()
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}, (*packets.Packet).PingreqEncode)
	c.expect(packets.Pingresp)
}

// next reads one packet within timeout.
func (c *client) next(timeout time.Duration) (packets.Packet, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	pk := packets.Packet{ProtocolVersion: 4}
	hb, err := c.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(c.r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	case packets.Pubrel:
		err = pk.PubrelDecode(body)
	case packets.Pubcomp:
		err = pk.PubcompDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Unsuback:
		err = pk.UnsubackDecode(body)
	case packets.Pingresp:
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// expect reads the next packet and fails unless it has type typ.
func (c *client) expect(typ byte) packets.Packet {
	c.t.Helper()
	pk, err := c.next(readTimeout)
	if err != nil {
		c.t.Fatalf("reading packet type %d: %v", typ, err)
	}
	if pk.FixedHeader.Type != typ {
		c.t.Fatalf("got packet type %d, want %d", pk.FixedHeader.Type, typ)
	}
	return pk
}

// expectPublish reads the next packet and fails unless it is a PUBLISH of
// payload on topic at qos with DUP clear.
func (c *client) expectPublish(topic, payload string, qos byte) packets.Packet {
	c.t.Helper()
	pk := c.expect(packets.Publish)
	if pk.TopicName != topic || string(pk.Payload) != payload || pk.FixedHeader.Qos != qos || pk.FixedHeader.Dup {
		c.t.Fatalf("PUBLISH %q %q QoS %d dup %v, want %q %q QoS %d dup false",
			pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Dup, topic, payload, qos)
	}
	if (qos == 0) != (pk.PacketID == 0) {
		c.t.Fatalf("PUBLISH QoS %d has packet id %d", qos, pk.PacketID)
	}
	return pk
}

// expectSilence fails unless nothing arrives within silence and the
// connection stays open.
func (c *client) expectSilence() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(silence))
	b, err := c.r.ReadByte()
	if err == nil {
		c.t.Fatalf("got byte %#x, want nothing", b)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("read: %v, want a timeout on an open connection", err)
	}
}

// expectClosed fails unless the broker closes the connection: an end of
// stream, or a reset when the broker closed with client bytes unread.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(readTimeout))
	if _, err := io.Copy(io.Discard, c.r); errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("read until close: %v", err)
	}
}

func checkStats(t *testing.T, b *Broker, want Stats) {
	t.Helper()
	if got := b.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func qosPtr(q byte) *byte { return &q }

func TestRoundTrip(t *testing.T) {
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{})
			c := connect(t, b, 0)
			c.subscribed("dev/+/up", qos, qos)
			c.publish("dev/7/up", "hello", qos, 42)
			in := c.expectPublish("dev/7/up", "hello", qos)
			switch qos {
			case 1:
				c.ack(packets.Puback, in.PacketID)
				if ack := c.expect(packets.Puback); ack.PacketID != 42 {
					t.Fatalf("PUBACK id %d, want 42", ack.PacketID)
				}
			case 2:
				c.ack(packets.Pubrec, in.PacketID)
				if rec := c.expect(packets.Pubrec); rec.PacketID != 42 {
					t.Fatalf("PUBREC id %d, want 42", rec.PacketID)
				}
				c.ack(packets.Pubrel, 42)
				if rel := c.expect(packets.Pubrel); rel.PacketID != in.PacketID {
					t.Fatalf("PUBREL id %d, want %d", rel.PacketID, in.PacketID)
				}
				c.ack(packets.Pubcomp, in.PacketID)
				if comp := c.expect(packets.Pubcomp); comp.PacketID != 42 {
					t.Fatalf("PUBCOMP id %d, want 42", comp.PacketID)
				}
			}
			c.ping()
			checkStats(t, b, Stats{Connects: 1, Subscribes: 1, Published: 1, Delivered: 1})
		})
	}
}

func TestRouting(t *testing.T) {
	b := start(t, Behaviour{})
	sub := connect(t, b, 0)
	sub.subscribed("a/#", 1, 1)
	sub.subscribed("a/b", 0, 0) // overlaps: one delivery at the highest QoS
	pub := connect(t, b, 0)
	pub.publish("a/b", "1", 1, 1)
	pub.expect(packets.Puback)
	sub.expectPublish("a/b", "1", 1)
	pub.publish("a", "2", 0, 0)
	pub.publish("b/a", "3", 1, 2) // matched by nobody
	pub.expect(packets.Puback)
	sub.expectPublish("a", "2", 0)

	id := sub.nextID()
	sub.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1},
		PacketID:    id,
		Filters:     packets.Subscriptions{{Filter: "a/#"}, {Filter: "a/b"}},
	}, (*packets.Packet).UnsubscribeEncode)
	if ack := sub.expect(packets.Unsuback); ack.PacketID != id {
		t.Fatalf("UNSUBACK id %d, want %d", ack.PacketID, id)
	}
	pub.publish("a/b", "4", 1, 3)
	pub.expect(packets.Puback)
	sub.ping()
	checkStats(t, b, Stats{Connects: 2, Subscribes: 2, Published: 4, Delivered: 2})

	sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}, (*packets.Packet).DisconnectEncode)
	sub.expectClosed()
}

func TestMatchTopic(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a", false},
		{"+/+", "/b", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
	} {
		if got := matchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestConnackCode(t *testing.T) {
	for _, code := range []byte{5, 6, 255} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{ConnackCode: code})
			c := connect(t, b, code)
			c.ping() // still open, and served
			checkStats(t, b, Stats{Connects: 1})
		})
	}
}

func TestHTTP(t *testing.T) {
	b := start(t, Behaviour{HTTP: true})
	c := dial(t, b)
	c.sendConnect()
	c.nc.SetReadDeadline(time.Now().Add(readTimeout))
	got, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	want := "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	checkStats(t, b, Stats{})
}

func TestNoConnack(t *testing.T) {
	b := start(t, Behaviour{NoConnack: true})
	c := dial(t, b)
	c.sendConnect()
	c.expectSilence()
}

func TestGarbage(t *testing.T) {
	garbage := []byte("\x20\x7f\xff\xffnot mqtt")
	b := start(t, Behaviour{Garbage: garbage})
	c := dial(t, b)
	c.sendConnect()
	c.nc.SetReadDeadline(time.Now().Add(readTimeout))
	got := make([]byte, len(garbage))
	if _, err := io.ReadFull(c.r, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, garbage) {
		t.Fatalf("got %q, want %q", got, garbage)
	}
	c.expectSilence()
}

func TestNoAcks(t *testing.T) {
	for _, tc := range []struct {
		name string
		beh  Behaviour
	}{
		{"NoSuback", Behaviour{NoSuback: true}},
		{"NoUnsuback", Behaviour{NoUnsuback: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := start(t, tc.beh)
			c := connect(t, b, 0)
			if tc.beh.NoSuback {
				c.subscribe("x", 1)
				c.expectSilence()
			} else {
				c.subscribed("x", 1, 1)
			}
			// The subscription took effect.
			c.publish("x", "1", 0, 0)
			c.expectPublish("x", "1", 0)
			c.send(packets.Packet{
				FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1},
				PacketID:    c.nextID(),
				Filters:     packets.Subscriptions{{Filter: "x"}},
			}, (*packets.Packet).UnsubscribeEncode)
			if tc.beh.NoUnsuback {
				c.expectSilence()
			} else {
				c.expect(packets.Unsuback)
			}
			// The unsubscription took effect.
			c.publish("x", "2", 0, 0)
			c.ping()
			checkStats(t, b, Stats{Connects: 1, Subscribes: 1, Published: 2, Delivered: 1})
		})
	}
}

func TestGrantQoS(t *testing.T) {
	for _, tc := range []struct {
		name                string
		requested, grant    byte
		pubQoS, deliveredAt byte
		delivered           bool
	}{
		{"downgrade", 2, 0, 2, 0, true},
		{"upgrade", 0, 2, 1, 1, true},
		{"refusal", 1, 0x80, 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{GrantQoS: qosPtr(tc.grant)})
			c := connect(t, b, 0)
			c.subscribed("t", tc.requested, tc.grant)
			c.publish("t", "m", tc.pubQoS, 1)
			want := Stats{Connects: 1, Subscribes: 1, Published: 1}
			if tc.delivered {
				c.expectPublish("t", "m", tc.deliveredAt)
				want.Delivered = 1
			}
			switch tc.pubQoS {
			case 1:
				c.expect(packets.Puback)
			case 2:
				c.expect(packets.Pubrec)
			}
			c.ping()
			checkStats(t, b, want)
		})
	}
}

func TestDeliverQoS(t *testing.T) {
	for _, tc := range []struct {
		subQoS, pubQoS, deliver byte
	}{
		{1, 1, 0},
		{0, 0, 2},
		{2, 2, 1},
	} {
		t.Run(fmt.Sprintf("sub%d_pub%d_deliver%d", tc.subQoS, tc.pubQoS, tc.deliver), func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{DeliverQoS: qosPtr(tc.deliver)})
			sub := connect(t, b, 0)
			sub.subscribed("t", tc.subQoS, tc.subQoS)
			pub := connect(t, b, 0)
			pub.publish("t", "m", tc.pubQoS, 9)
			sub.expectPublish("t", "m", tc.deliver)
			checkStats(t, b, Stats{Connects: 2, Subscribes: 1, Published: 1, Delivered: 1})
		})
	}
}

// publishN publishes payloads "m1".."mn" at QoS 1 on topic t and waits for
// each PUBACK, after which the broker has routed every message.
func publishN(c *client, n int) {
	c.t.Helper()
	for i := 1; i <= n; i++ {
		id := c.nextID()
		c.publish("t", fmt.Sprintf("m%d", i), 1, id)
		if ack := c.expect(packets.Puback); ack.PacketID != id {
			c.t.Fatalf("PUBACK id %d, want %d", ack.PacketID, id)
		}
	}
}

func TestDropEvery(t *testing.T) {
	for _, tc := range []struct {
		every int
		want  []int // the messages delivered, of m1..m10
	}{
		{1, nil},
		{2, []int{1, 3, 5, 7, 9}},
		{3, []int{1, 2, 4, 5, 7, 8, 10}},
		{11, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	} {
		t.Run(fmt.Sprint(tc.every), func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{DropEvery: tc.every})
			sub := connect(t, b, 0)
			sub.subscribed("t", 1, 1)
			pub := connect(t, b, 0)
			publishN(pub, 10)
			for _, i := range tc.want {
				sub.expectPublish("t", fmt.Sprintf("m%d", i), 1)
			}
			sub.ping()
			n := int64(len(tc.want))
			checkStats(t, b, Stats{Connects: 2, Subscribes: 1, Published: 10, Delivered: n, Dropped: 10 - n})
		})
	}
}

func TestForeignEvery(t *testing.T) {
	b := start(t, Behaviour{ForeignEvery: 3})
	subs := []*client{connect(t, b, 0), connect(t, b, 0)}
	subs[0].subscribed("t", 1, 1)
	subs[1].subscribed("#", 0, 0)
	pub := connect(t, b, 0)
	publishN(pub, 7)
	// Foreign messages are numbered broker-wide, in subscription order.
	foreign := [][]string{{"foreign-1", "foreign-3"}, {"foreign-2", "foreign-4"}}
	for i, sub := range subs {
		qos := byte(1 - i)
		for m := 1; m <= 7; m++ {
			sub.expectPublish("t", fmt.Sprintf("m%d", m), qos)
			if m%3 == 0 {
				sub.expectPublish("t", foreign[i][m/3-1], qos)
			}
		}
		sub.ping()
	}
	checkStats(t, b, Stats{Connects: 3, Subscribes: 2, Published: 7, Delivered: 14, Foreign: 4})
}

func TestRedeliverAfter(t *testing.T) {
	for _, after := range []int{1, 3} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{RedeliverAfter: after})
			sub := connect(t, b, 0)
			sub.subscribed("t", 1, 1)
			pub := connect(t, b, 0)
			publishN(pub, 5)
			ids := map[uint16]bool{}
			for m := 1; m <= 5; m++ {
				pk := sub.expectPublish("t", fmt.Sprintf("m%d", m), 1)
				ids[pk.PacketID] = true
				if m == after {
					old := sub.expectPublish("t", "m1", 1)
					ids[old.PacketID] = true
				}
			}
			if len(ids) != 6 {
				t.Errorf("packet ids %v, want 6 distinct", ids)
			}
			sub.ping()
			checkStats(t, b, Stats{Connects: 2, Subscribes: 1, Published: 5, Delivered: 5, Redelivered: 1})
		})
	}
}

func TestOversizeLength(t *testing.T) {
	for _, tc := range []struct {
		length int
		header []byte // the fixed header expected after the CONNACK
	}{
		{2 << 20, []byte{0x30, 0x80, 0x80, 0x80, 0x01}},
		{256 << 20, []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}},
	} {
		t.Run(fmt.Sprint(tc.length), func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{OversizeLength: tc.length})
			c := connect(t, b, 0)
			want := append(tc.header, 0, 3, 'b', 'i', 'g') // and no more
			got := make([]byte, len(want))
			c.nc.SetReadDeadline(time.Now().Add(readTimeout))
			if _, err := io.ReadFull(c.r, got); err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got % x, want % x", got, want)
			}
			c.expectSilence()
		})
	}
}

func TestUnknownPuback(t *testing.T) {
	for _, tc := range []struct{ id, want uint16 }{
		{7, 1007},
		{65000, 464},
	} {
		t.Run(fmt.Sprint(tc.id), func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{UnknownPuback: true})
			c := connect(t, b, 0)
			c.publish("t", "m", 1, tc.id)
			if ack := c.expect(packets.Puback); ack.PacketID != tc.want {
				t.Fatalf("PUBACK id %d, want %d", ack.PacketID, tc.want)
			}
			checkStats(t, b, Stats{Connects: 1, Published: 1})
		})
	}
}

func TestRefusesBadPackets(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"over 1 MiB", []byte{0x30, 0x81, 0x80, 0x40}},
		{"5-byte length", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"qos 3", []byte{0x36, 0x00}},
		{"connack from client", []byte{0x20, 0x02, 0x00, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := start(t, Behaviour{})
			c := connect(t, b, 0)
			c.write(tc.raw)
			c.expectClosed()
		})
	}
}

func TestUnsupportedVersion(t *testing.T) {
	b := start(t, Behaviour{})
	c := dial(t, b)
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: "v6"},
	}, func(pk *packets.Packet, buf *bytes.Buffer) error {
		pk.ProtocolVersion = 6
		return pk.ConnectEncode(buf)
	})
	if ack := c.expect(packets.Connack); ack.ReasonCode != 1 {
		t.Fatalf("CONNACK code %d, want 1", ack.ReasonCode)
	}
	c.expectClosed()
}

func TestCloseEndsEverything(t *testing.T) {
	b, err := Start(Behaviour{NoSuback: true})
	if err != nil {
		t.Fatal(err)
	}
	idle := dial(t, b) // never sends CONNECT
	served := connect(t, b, 0)
	served.subscribe("x", 0)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	idle.expectClosed()
	served.expectClosed()
	if _, err := net.Dial("tcp", b.Addr()); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

func TestPacketIDsWrap(t *testing.T) {
	c := &conn{nextID: 65534}
	for _, want := range []uint16{65535, 1, 2} {
		if got := c.newID(); got != want {
			t.Fatalf("newID = %d, want %d", got, want)
		}
	}
}

func TestAddr(t *testing.T) {
	b := start(t, Behaviour{})
	if want := fmt.Sprintf("127.0.0.1:%d", b.Port()); b.Addr() != want || b.Port() == 0 {
		t.Fatalf("Addr %q Port %d", b.Addr(), b.Port())
	}
}

func FuzzReadPacket(f *testing.F) {
	for _, seed := range [][]byte{
		{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 0},
		{0x32, 0x06, 0, 1, 't', 0, 1, 'x'},
		{0x82, 0x06, 0, 1, 0, 1, 'a', 1},
		{0xa2, 0x05, 0, 1, 0, 1, 'a'},
		{0x62, 0x02, 0, 1},
		{0xc0, 0x00},
		{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 16 {
			if _, err := readPacket(r, 4); err != nil {
				return
			}
		}
	})
}

func TestInvalidFilterRefused(t *testing.T) {
	b := start(t, Behaviour{})
	c := connect(t, b, 0)
	for _, f := range []string{"a/#/b", "a+", "#x"} {
		c.subscribed(f, 1, 0x80)
	}
	c.subscribed("+/#", 1, 1)
	checkStats(t, b, Stats{Connects: 1, Subscribes: 4})
}

package badbroker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// protocolVersion is the version the broker encodes and decodes with after
// CONNECT: MQTT 3.1 (level 3) and 3.1.1 (level 4) share their encoding.
const protocolVersion = 4

// httpResponse is what a Go HTTP server writes for a request it cannot parse.
const httpResponse = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"

var (
	errTooLarge   = errors.New("badbroker: remaining length over 1 MiB")
	errLengthSize = errors.New("badbroker: remaining length longer than 4 bytes")
	errType       = errors.New("badbroker: unexpected packet type")
)

// conn is one client connection.
type conn struct {
	b  *Broker
	nc net.Conn
	r  *bufio.Reader

	wmu    sync.Mutex // serialises writes and guards nextID
	nextID uint16     // last packet id of an outbound QoS>0 PUBLISH

	// Guarded by b.routeMu.
	subs        map[string]byte // filter → granted QoS (at most 2)
	deliveries  int             // deliveries made to this connection
	first       *message        // the first message delivered to it
	redelivered bool            // whether first has been delivered again

	// Reader goroutine only.
	awaitingRel map[uint16]bool // inbound QoS 2 ids between PUBREC and PUBREL
}

// message is a delivered message, kept for RedeliverAfter.
type message struct {
	topic   string
	payload []byte
	qos     byte
}

func newConn(b *Broker, nc net.Conn) *conn {
	return &conn{b: b, nc: nc, r: bufio.NewReader(nc), awaitingRel: make(map[uint16]bool)}
}

// serve runs the connection until it fails, the client disconnects or the
// broker closes.
func (c *conn) serve() {
	defer c.b.wg.Done()
	defer c.b.remove(c)
	beh := &c.b.beh

	if beh.HTTP {
		c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
		if _, err := c.r.ReadByte(); err != nil {
			return
		}
		if c.writeRaw([]byte(httpResponse)) == nil {
			c.linger()
		}
		return
	}

	pk, err := c.read(0)
	if err != nil || pk.FixedHeader.Type != packets.Connect {
		return
	}
	c.b.connects.Add(1)
	switch {
	case beh.NoConnack:
		c.discard(idleTimeout)
		return
	case len(beh.Garbage) > 0:
		if c.writeRaw(beh.Garbage) == nil {
			c.discard(idleTimeout)
		}
		return
	case pk.ProtocolVersion != 3 && pk.ProtocolVersion != 4:
		// 0x01: unacceptable protocol version; then close [MQTT-3.1.2-2].
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: 1, ProtocolVersion: protocolVersion}
		if c.send(&ack, (*packets.Packet).ConnackEncode) == nil {
			c.linger()
		}
		return
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: beh.ConnackCode, ProtocolVersion: protocolVersion}
	if c.send(&ack, (*packets.Packet).ConnackEncode) != nil {
		return
	}
	if beh.OversizeLength > 0 {
		var buf bytes.Buffer
		fh := packets.FixedHeader{Type: packets.Publish, Remaining: beh.OversizeLength}
		fh.Encode(&buf)
		buf.Write([]byte{0, 3, 'b', 'i', 'g'}) // the start of a topic name
		if c.writeRaw(buf.Bytes()) == nil {
			c.discard(idleTimeout)
		}
		return
	}
	for {
		pk, err := c.read(protocolVersion)
		if err != nil || !c.handle(&pk) {
			return
		}
	}
}

// handle acts on one packet after CONNECT and reports whether the
// connection goes on.
func (c *conn) handle(pk *packets.Packet) bool {
	beh := &c.b.beh
	switch pk.FixedHeader.Type {
	case packets.Publish:
		return c.handlePublish(pk)
	case packets.Puback, packets.Pubcomp:
		// The end of an outbound QoS 1 or 2 flow: nothing is kept.
		return true
	case packets.Pubrec:
		rel := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: pk.PacketID, ProtocolVersion: protocolVersion}
		return c.send(&rel, (*packets.Packet).PubrelEncode) == nil
	case packets.Pubrel:
		delete(c.awaitingRel, pk.PacketID)
		comp := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: pk.PacketID, ProtocolVersion: protocolVersion}
		return c.send(&comp, (*packets.Packet).PubcompEncode) == nil
	case packets.Subscribe:
		c.b.subscribes.Add(1)
		if len(pk.Filters) == 0 {
			return false // [MQTT-3.8.3-3]
		}
		codes := c.b.subscribe(c, pk.Filters)
		if beh.NoSuback {
			return true
		}
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Suback}, PacketID: pk.PacketID, ReasonCodes: codes, ProtocolVersion: protocolVersion}
		return c.send(&ack, (*packets.Packet).SubackEncode) == nil
	case packets.Unsubscribe:
		c.b.unsubscribe(c, pk.Filters)
		if beh.NoUnsuback {
			return true
		}
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsuback}, PacketID: pk.PacketID, ProtocolVersion: protocolVersion}
		return c.send(&ack, (*packets.Packet).UnsubackEncode) == nil
	case packets.Pingreq:
		resp := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingresp}, ProtocolVersion: protocolVersion}
		return c.send(&resp, (*packets.Packet).PingrespEncode) == nil
	default:
		// DISCONNECT ends the connection; anything else (a second CONNECT,
		// a server-to-client packet, AUTH) is a protocol violation.
		return false
	}
}

// handlePublish routes a PUBLISH from the client, then acknowledges it.
func (c *conn) handlePublish(pk *packets.Packet) bool {
	c.b.published.Add(1)
	if pk.PublishValidate(0).Code != packets.CodeSuccess.Code {
		return false
	}
	qos := pk.FixedHeader.Qos
	switch qos {
	case 0:
		c.b.route(pk.TopicName, pk.Payload, 0)
		return true
	case 1:
		c.b.route(pk.TopicName, pk.Payload, 1)
		id := pk.PacketID
		if c.b.beh.UnknownPuback {
			id += 1000
		}
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id, ProtocolVersion: protocolVersion}
		return c.send(&ack, (*packets.Packet).PubackEncode) == nil
	default:
		// Routed on PUBLISH; a re-sent PUBLISH before PUBREL is not routed again.
		if !c.awaitingRel[pk.PacketID] {
			c.b.route(pk.TopicName, pk.Payload, 2)
			c.awaitingRel[pk.PacketID] = true
		}
		rec := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: pk.PacketID, ProtocolVersion: protocolVersion}
		return c.send(&rec, (*packets.Packet).PubrecEncode) == nil
	}
}

// read reads one packet within the idle timeout.
func (c *conn) read(version byte) (packets.Packet, error) {
	c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
	return readPacket(c.r, version)
}

// readPacket reads and decodes one packet: the fixed header byte, the
// remaining length (at most 4 bytes, at most maxRemaining) and the body.
// version is the protocol version the body is decoded with; a CONNECT body
// sets its own.
func readPacket(r *bufio.Reader, version byte) (packets.Packet, error) {
	pk := packets.Packet{ProtocolVersion: version}
	hb, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(&lengthReader{r: r})
	if err != nil {
		return pk, err
	}
	if n > maxRemaining {
		return pk, errTooLarge
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n) // owned by the packet: payloads are kept for redelivery
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectDecode(body)
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
	case packets.Subscribe:
		err = pk.SubscribeDecode(body)
	case packets.Unsubscribe:
		err = pk.UnsubscribeDecode(body)
	case packets.Pingreq, packets.Disconnect:
	default:
		err = fmt.Errorf("%w %d", errType, pk.FixedHeader.Type)
	}
	return pk, err
}

// lengthReader lets packets.DecodeLength read at most the 4 bytes a
// remaining length may have.
type lengthReader struct {
	r *bufio.Reader
	n int
}

func (l *lengthReader) ReadByte() (byte, error) {
	if l.n == 4 {
		return 0, errLengthSize
	}
	l.n++
	return l.r.ReadByte()
}

// send encodes pk with encode and writes it.
func (c *conn) send(pk *packets.Packet, encode func(*packets.Packet, *bytes.Buffer) error) error {
	var buf bytes.Buffer
	if err := encode(pk, &buf); err != nil {
		return err
	}
	return c.writeRaw(buf.Bytes())
}

// publish writes a PUBLISH with a fresh packet id when qos > 0. counter is
// incremented just before the write and decremented if the write fails.
func (c *conn) publish(topic string, payload []byte, qos byte, counter *atomic.Int64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:       topic,
		Payload:         payload,
		ProtocolVersion: protocolVersion,
	}
	if qos > 0 {
		pk.PacketID = c.newID()
	}
	var buf bytes.Buffer
	if err := pk.PublishEncode(&buf); err != nil {
		return err
	}
	counter.Add(1)
	if err := c.writeLocked(buf.Bytes()); err != nil {
		counter.Add(-1)
		return err
	}
	return nil
}

// newID returns the next outbound packet id, wrapping and skipping 0.
// Callers hold wmu.
func (c *conn) newID() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// writeRaw writes p as one write.
func (c *conn) writeRaw(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(p)
}

// writeLocked writes p within the write timeout and closes the connection
// when that fails. Callers hold wmu.
func (c *conn) writeLocked(p []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.nc.Write(p); err != nil {
		c.nc.Close()
		return err
	}
	return nil
}

// discard reads and ignores bytes until the client closes the connection,
// the broker closes or nothing arrives for timeout.
func (c *conn) discard(timeout time.Duration) {
	buf := make([]byte, 4096)
	for {
		c.nc.SetReadDeadline(time.Now().Add(timeout))
		if _, err := c.r.Read(buf); err != nil {
			return
		}
	}
}

// linger half-closes the connection after the broker's last bytes and waits
// for the client to close, so unread client bytes do not make the kernel
// reset the connection before the client has read the answer.
func (c *conn) linger() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	c.discard(lingerTimeout)
}

package iot

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MQTT 3.1.1 control packet types the handle watches on the wire.
const (
	pktConnack     = 2
	pktPublish     = 3
	pktPuback      = 4
	pktPubcomp     = 7
	pktSubscribe   = 8
	pktSuback      = 9
	pktUnsubscribe = 10
	pktUnsuback    = 11
)

// maxFilterCapture bounds how many bytes of a SUBSCRIBE/UNSUBSCRIBE topic
// filter the parser keeps (filters longer than this are matched by prefix).
const maxFilterCapture = 256

// frame is what the parser reports when a control packet of interest has
// been read or written completely.
type frame struct {
	typ      byte
	flags    byte
	pid      uint16
	topicLen uint16 // PUBLISH: length of the topic name
	nack     bool   // SUBACK: a granted QoS was 0x80
	codes    [4]byte
	ncodes   int
	filter   []byte // SUBSCRIBE/UNSUBSCRIBE: the first topic filter (a view, valid during the callback)
	rc       byte   // CONNACK: the return code
}

// wireParser follows the MQTT framing of one direction of a byte stream and
// reports the packets listed above without buffering payloads. It never
// fails: a stream it cannot follow (not MQTT) simply yields no frames.
type wireParser struct {
	state  byte // 0 header, 1 remaining length, 2 body
	typ    byte
	flags  byte
	mult   int
	remain int // body bytes still to come
	off    int // body offset of the next byte
	f      frame
	buf    []byte // filter capture, allocated on first SUBSCRIBE
	emit   func(f *frame)
}

func (p *wireParser) feed(b []byte) {
	for len(b) > 0 {
		switch p.state {
		case 0:
			p.typ, p.flags = b[0]>>4, b[0]&0x0f
			p.state, p.remain, p.mult, p.off = 1, 0, 1, 0
			p.f = frame{typ: p.typ, flags: p.flags}
			b = b[1:]
		case 1:
			c := b[0]
			b = b[1:]
			p.remain += int(c&0x7f) * p.mult
			p.mult *= 128
			if c&0x80 != 0 {
				if p.mult > 128*128*128 { // more than 4 length bytes: not MQTT, resync on next byte
					p.state = 0
				}
				continue
			}
			p.state = 2
			if p.remain == 0 {
				p.done()
			}
		case 2:
			n := p.body(b)
			b = b[n:]
		}
	}
}

// body consumes body bytes of the current packet and returns how many it
// took. Only the few bytes that matter are looked at one by one; the rest
// is skipped in bulk.
func (p *wireParser) body(b []byte) int {
	n := 0
	for n < len(b) && p.remain > 0 {
		if !p.interesting() {
			skip := p.remain
			if left := len(b) - n; skip > left {
				skip = left
			}
			if end := p.nextInteresting(); end > p.off && end-p.off < skip {
				skip = end - p.off
			}
			n += skip
			p.off += skip
			p.remain -= skip
			continue
		}
		p.byteAt(b[n])
		n++
		p.off++
		p.remain--
	}
	if p.remain == 0 {
		p.done()
	}
	return n
}

// interesting reports whether the byte at the current offset is one the
// parser needs.
func (p *wireParser) interesting() bool {
	switch p.typ {
	case pktPuback, pktPubcomp, pktUnsuback, pktConnack:
		return p.off < 2
	case pktSuback:
		return true
	case pktPublish:
		if p.off < 2 {
			return true
		}
		qos := (p.flags >> 1) & 3
		tl := 2 + int(p.f.topicLen)
		return qos > 0 && p.off >= tl && p.off < tl+2
	case pktSubscribe, pktUnsubscribe:
		if p.off < 4 {
			return true
		}
		return p.off < 4+int(p.f.topicLen) && p.off-4 < maxFilterCapture
	}
	return false
}

// nextInteresting returns the next body offset the parser wants to see, or
// -1 when no further byte of this packet matters.
func (p *wireParser) nextInteresting() int {
	if p.typ == pktPublish && (p.flags>>1)&3 > 0 && p.off < 2+int(p.f.topicLen) {
		return 2 + int(p.f.topicLen)
	}
	return -1
}

func (p *wireParser) byteAt(c byte) {
	switch p.typ {
	case pktConnack:
		if p.off == 1 {
			p.f.rc = c
		}
	case pktPuback, pktPubcomp, pktUnsuback:
		p.f.pid = p.f.pid<<8 | uint16(c)
	case pktSuback:
		if p.off < 2 {
			p.f.pid = p.f.pid<<8 | uint16(c)
			return
		}
		if c == 0x80 {
			p.f.nack = true
		}
		if p.f.ncodes < len(p.f.codes) {
			p.f.codes[p.f.ncodes] = c
		}
		p.f.ncodes++
	case pktPublish:
		if p.off < 2 {
			p.f.topicLen = p.f.topicLen<<8 | uint16(c)
			return
		}
		p.f.pid = p.f.pid<<8 | uint16(c)
	case pktSubscribe, pktUnsubscribe:
		switch {
		case p.off < 2:
			p.f.pid = p.f.pid<<8 | uint16(c)
		case p.off < 4:
			p.f.topicLen = p.f.topicLen<<8 | uint16(c)
			if p.off == 3 {
				p.buf = p.buf[:0]
			}
		default:
			p.buf = append(p.buf, c)
		}
	}
}

func (p *wireParser) done() {
	p.state = 0
	switch p.typ {
	case pktConnack, pktPublish, pktPuback, pktPubcomp, pktSuback, pktUnsuback, pktSubscribe, pktUnsubscribe:
		if p.typ == pktSubscribe || p.typ == pktUnsubscribe {
			p.f.filter = p.buf
		}
		if p.emit != nil {
			p.emit(&p.f)
		}
	}
}

// wireConn is the transport of one connection as the handle sees it: it
// counts bytes and follows the framing in both directions, so that the
// arrival of every PUBLISH, PUBACK, PUBCOMP, SUBACK and UNSUBACK is stamped
// at the moment the transport read returned it, with no goroutine of its own.
type wireConn struct {
	net.Conn
	h        *pahoHandle
	in, out  wireParser
	readAt   time.Time
	bytesIn  *atomic.Int64
	bytesOut *atomic.Int64
	// rbuf holds bytes read from the transport but not yet taken by paho,
	// which reads each packet in 3+ small reads (type, length, body): one
	// transport read now serves them all. It is borrowed from readBufs
	// only while it holds bytes, so an idle connection holds none.
	rbuf   *[]byte
	rr, rw int
	// first is false until the first inbound byte was seen; fail, once
	// set, is what every further Read returns: the peer broke the protocol
	// (not MQTT, an undefined CONNACK code), and the bytes it sent are not
	// handed to the client.
	first bool
	fail  error
	// count, when set, is told of every byte read and written (the node's
	// live traffic counters).
	count func(in, out int64)
}

// readBufSize is the transport read size: a typical load-test packet fits;
// larger bodies are read straight into paho's buffer.
const readBufSize = 512

// readBufs lends read buffers to connections that have unread bytes.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

func newWireConn(c net.Conn, h *pahoHandle) *wireConn {
	w := &wireConn{Conn: c, h: h, bytesIn: &h.bytesIn, bytesOut: &h.bytesOut, count: h.p.CountBytes}
	w.in.emit = w.inbound
	w.out.emit = w.outbound
	return w
}

// Read is called only by paho's single reader goroutine. Every transport
// read is stamped and parsed as it happens; small reads are served from
// the bytes of the last transport read.
func (w *wireConn) Read(b []byte) (int, error) {
	if w.fail != nil {
		return 0, w.fail
	}
	if w.rr < w.rw {
		n := copy(b, (*w.rbuf)[w.rr:w.rw])
		w.rr += n
		if w.rr == w.rw {
			readBufs.Put(w.rbuf)
			w.rbuf, w.rr, w.rw = nil, 0, 0
		}
		return n, nil
	}
	if len(b) >= readBufSize {
		n, err := w.Conn.Read(b)
		w.took(b[:n])
		if w.fail != nil {
			return 0, w.fail
		}
		return n, err
	}
	buf := readBufs.Get().(*[]byte)
	n, err := w.Conn.Read(*buf)
	w.took((*buf)[:n])
	if w.fail != nil {
		readBufs.Put(buf)
		return 0, w.fail
	}
	c := copy(b, (*buf)[:n])
	if c < n {
		w.rbuf, w.rr, w.rw = buf, c, n
	} else {
		readBufs.Put(buf)
	}
	if c < n {
		err = nil // report it with the buffered bytes' last read
	}
	return c, err
}

// took stamps and parses bytes just read from the transport.
func (w *wireConn) took(p []byte) {
	if len(p) == 0 {
		return
	}
	w.readAt = w.h.clock.Now()
	w.bytesIn.Add(int64(len(p)))
	if w.count != nil {
		w.count(int64(len(p)), 0)
	}
	if !w.first {
		w.first = true
		if p[0] != pktConnack<<4 {
			w.breach(fmt.Errorf("%w: the server's first bytes are not an MQTT CONNACK: %s", ErrNotMQTT, quoteStart(p)))
			return
		}
	}
	w.in.feed(p)
}

// breach ends the connection because the peer broke the protocol: the
// error is kept for the handle (it classifies the connect failure) and
// returned by every further Read.
func (w *wireConn) breach(err error) {
	if w.fail != nil {
		return
	}
	w.fail = err
	w.h.noteBreach(err)
	w.Conn.Close()
}

// quoteStart shows the first bytes of p for an error message: printable
// ASCII as text ("HTTP/1.1 400 Bad Request"), anything else in hex.
func quoteStart(p []byte) string {
	const max = 24
	if len(p) > max {
		p = p[:max]
	}
	text := true
	for _, c := range p {
		if c < 0x20 && c != '\r' && c != '\n' || c > 0x7e {
			text = false
			break
		}
	}
	if text {
		return strconv.Quote(string(p))
	}
	return fmt.Sprintf("% x", p)
}

// Write is called only by paho's single writer goroutine (and once by the
// connect sequence before it starts). The bytes are parsed before they are
// written, so a request is known before its reply can possibly be read.
func (w *wireConn) Write(b []byte) (int, error) {
	w.out.feed(b)
	n, err := w.Conn.Write(b)
	w.bytesOut.Add(int64(n))
	if w.count != nil && n > 0 {
		w.count(0, int64(n))
	}
	return n, err
}

func (w *wireConn) inbound(f *frame) {
	if f.typ == pktConnack && f.rc > maxConnackCode {
		w.breach(fmt.Errorf("%w: CONNACK return code %d, which MQTT 3.1.1 does not define (0–5)", ErrProtocol, f.rc))
		return
	}
	w.h.onInboundFrame(w, f, w.readAt)
}

// maxConnackCode is the highest CONNACK return code of MQTT 3.1.1.
const maxConnackCode = 5

func (w *wireConn) outbound(f *frame) { w.h.onOutboundFrame(f) }

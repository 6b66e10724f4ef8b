package iot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetbench/fleetbench/engine/hal"
)

// maxRemaining is the largest remaining length MQTT can encode.
const maxRemaining = 268435455

// readBufferSize is the connection's read buffer: a load-test packet (and
// a PUBACK beside it) fits in one transport read.
const readBufferSize = 512

// reasonError is a refusal or disconnect that carries an MQTT 5.0 reason
// code (or a 3.1.1 CONNACK return code) by name.
type reasonError struct {
	name string
	err  error
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// ReasonOf returns the reason code name an error carries ("" if none).
func ReasonOf(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.name
	}
	return ""
}

// errConnackTimeout: the CONNACK did not come within the request timeout
// (the SDK then closes, waits and sends CONNECT again).
var errConnackTimeout = errors.New("no CONNACK within the request timeout")

// meteredConn counts the bytes of a connection as they cross it.
type meteredConn struct {
	net.Conn
	h *nativeHandle
}

func (m *meteredConn) Read(b []byte) (int, error) {
	n, err := m.Conn.Read(b)
	if n > 0 {
		m.h.bytesIn.Add(int64(n))
		if m.h.p.CountBytes != nil {
			m.h.p.CountBytes(int64(n), 0)
		}
	}
	return n, err
}

func (m *meteredConn) Write(b []byte) (int, error) {
	n, err := m.Conn.Write(b)
	if n > 0 {
		m.h.bytesOut.Add(int64(n))
		if m.h.p.CountBytes != nil {
			m.h.p.CountBytes(0, int64(n))
		}
	}
	return n, err
}

// connect establishes a session as IOT_MQTT_Construct does: up to
// TransportTries transport attempts, then up to ConnectTries CONNECT
// attempts while the CONNACK is slow; a refusal or a peer that is not
// MQTT ends it at once. ctx bounds everything.
func (h *nativeHandle) connect(ctx context.Context) (*connReader, packets.Packet, error) {
	var last error
	for attempt := 1; attempt <= max(1, h.prof.ConnectTries); attempt++ {
		if attempt > 1 && !sleepCtx(ctx, h.prof.ConnectWait) {
			return nil, packets.Packet{}, h.connectErr(ctx, last)
		}
		c, err := h.establish(ctx)
		if err != nil {
			return nil, packets.Packet{}, err
		}
		cr := &connReader{Conn: &meteredConn{Conn: c, h: h}}
		cr.br = bufio.NewReaderSize(cr.Conn, readBufferSize)
		ack, err := h.handshake(ctx, cr)
		if err == nil {
			return cr, ack, nil
		}
		c.Close()
		if !errors.Is(err, errConnackTimeout) {
			return nil, packets.Packet{}, err
		}
		last = err
	}
	return nil, packets.Packet{}, h.connectErr(ctx, last)
}

// connectErr wraps the last error of a connect that gave up.
func (h *nativeHandle) connectErr(ctx context.Context, last error) error {
	if errors.Is(last, errConnackTimeout) {
		return fmt.Errorf("iot: connect %s: %w (%v)", h.p.Endpoint, ErrConnectTimeout, last)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("iot: connect %s: %w", h.p.Endpoint, ErrConnectTimeout)
	}
	return fmt.Errorf("iot: connect %s: %w", h.p.Endpoint, last)
}

// establish opens the transport, retrying as HAL_TCP_Establish's caller
// does.
func (h *nativeHandle) establish(ctx context.Context) (net.Conn, error) {
	var err error
	for try := 1; try <= max(1, h.prof.TransportTries); try++ {
		if try > 1 && !sleepCtx(ctx, h.prof.TransportWait) {
			break
		}
		dctx, cancel := context.WithTimeout(ctx, h.p.ConnectTimeout)
		c, derr := h.p.Dialer.Establish(dctx, h.p.Endpoint)
		cancel()
		if derr == nil {
			return c, nil
		}
		if werr := wsRefusal(derr); werr != nil {
			// The server answered, not as a WebSocket: as final as a
			// CONNACK refusal, so no transport retry.
			err = werr
			break
		}
		if err != nil && (ctx.Err() != nil || isTimeoutErr(derr)) {
			break // the time ran out during a retry: the earlier error says why
		}
		err = derr
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("iot: connect %s as %q: %w", h.p.Endpoint, h.p.ClientID, err)
}

// wsRefusal returns err marked ErrNotMQTT when it is a failed WebSocket
// handshake (hal.WSError: no HTTP answer, or an upgrade refused with an
// HTTP status), nil otherwise. The endpoint does not speak MQTT over
// WebSocket at that URL, as a TLS port spoken to in plain TCP does not
// speak MQTT; hal.WSReason(err) gives the precise reason and status.
func wsRefusal(err error) error {
	if r, _ := hal.WSReason(err); r != "" {
		return fmt.Errorf("%w: %w", ErrNotMQTT, err)
	}
	return nil
}

// isTimeoutErr reports whether err is a deadline running out.
func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// handshake writes CONNECT and reads the CONNACK within the request
// timeout (and ctx).
func (h *nativeHandle) handshake(ctx context.Context, c *connReader) (packets.Packet, error) {
	var b bytes.Buffer
	pk := h.connectPacket()
	if err := pk.ConnectEncode(&b); err != nil {
		return packets.Packet{}, fmt.Errorf("iot: connect: encode CONNECT: %w", err)
	}
	deadline := time.Now().Add(h.p.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(b.Bytes()); err != nil {
		return packets.Packet{}, fmt.Errorf("iot: connect %s: write CONNECT: %w", h.p.Endpoint, err)
	}
	first, err := c.br.Peek(1)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return packets.Packet{}, errConnackTimeout
		}
		return packets.Packet{}, fmt.Errorf("iot: connect %s as %q: read CONNACK: %w", h.p.Endpoint, h.p.ClientID, err)
	}
	if first[0] != packets.Connack<<4 {
		start, _ := c.br.Peek(min(24, max(1, c.br.Buffered())))
		return packets.Packet{}, fmt.Errorf("iot: connect %s: %w: the server's first bytes are not an MQTT CONNACK: %s", h.p.Endpoint, ErrNotMQTT, quoteStart(start))
	}
	typ, flags, body, err := c.read(64 << 10) // a CONNACK is small; properties included
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return packets.Packet{}, errConnackTimeout
		}
		return packets.Packet{}, fmt.Errorf("iot: connect %s: read CONNACK: %w", h.p.Endpoint, err)
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: typ, Remaining: len(body)}, ProtocolVersion: byte(h.p.Version)}
	_ = flags
	if err := ack.ConnackDecode(body); err != nil {
		return packets.Packet{}, fmt.Errorf("iot: connect %s: %w: malformed CONNACK: %v", h.p.Endpoint, ErrProtocol, err)
	}
	return ack, h.connackErr(ack.ReasonCode)
}

// connackErr classifies a CONNACK's return (3.1.1) or reason (5.0) code.
func (h *nativeHandle) connackErr(rc byte) error {
	if rc == 0 {
		return nil
	}
	who := fmt.Sprintf("iot: connect %s as %q", h.p.Endpoint, h.p.ClientID)
	if h.p.Version == MQTT5 {
		name := ReasonName(rc)
		switch {
		case rc < 0x80:
			return &reasonError{name, fmt.Errorf("%s: %w: CONNACK reason code 0x%02x is not a refusal", who, ErrProtocol, rc)}
		case rc == 0x86 || rc == 0x87:
			return &reasonError{name, fmt.Errorf("%s: %w (CONNACK %s)", who, ErrNotAuthorized, name)}
		}
		return &reasonError{name, fmt.Errorf("%s: %w: %s (0x%02x)", who, ErrConnectRefused, name, rc)}
	}
	name := connackName(rc)
	switch {
	case rc > maxConnackCode:
		return &reasonError{name, fmt.Errorf("%s: %w: CONNACK return code %d, which MQTT 3.1.1 does not define (0–5)", who, ErrProtocol, rc)}
	case rc == 4 || rc == 5:
		return &reasonError{name, fmt.Errorf("%s: %w (CONNACK %d %s)", who, ErrNotAuthorized, rc, name)}
	}
	return &reasonError{name, fmt.Errorf("%s: %w: CONNACK %d %s", who, ErrConnectRefused, rc, name)}
}

// connectPacket builds the CONNECT of the session.
func (h *nativeHandle) connectPacket() packets.Packet {
	p := &h.p
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: byte(p.Version)}
	pk.Connect.ProtocolName = []byte("MQTT")
	pk.Connect.Clean = p.CleanSession
	pk.Connect.ClientIdentifier = p.ClientID
	ka := h.prof.announce(p.KeepAlive)
	pk.Connect.Keepalive = uint16(min(ka/time.Second, 65535))
	if p.Username != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(p.Username)
	}
	if p.Password != "" {
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(p.Password)
	}
	if p.Version == MQTT5 {
		pr := &pk.Properties
		if p.MQTT5.SessionExpiry > 0 {
			pr.SessionExpiryInterval = uint32(min(p.MQTT5.SessionExpiry/time.Second, 1<<32-1))
			pr.SessionExpiryIntervalFlag = true
		}
		if rm := p.MQTT5.ReceiveMaximum; rm > 0 && rm < 65535 {
			pr.ReceiveMaximum = uint16(rm)
		}
		pr.MaximumPacketSize = uint32(p.MaxPacketSize)
		pr.User = userProps(p.MQTT5.UserProperties)
	}
	return pk
}

func userProps(in []UserProperty) []packets.UserProperty {
	if len(in) == 0 {
		return nil
	}
	out := make([]packets.UserProperty, len(in))
	for i, u := range in {
		out[i] = packets.UserProperty{Key: u.Key, Val: u.Value}
	}
	return out
}

// connReader is a connection with its read buffer, read by one goroutine.
type connReader struct {
	net.Conn
	br *bufio.Reader
}

// read reads one packet, refusing a remaining length above limit before
// allocating it.
func (c *connReader) read(limit int) (typ, flags byte, body []byte, err error) {
	hb, err := c.br.ReadByte()
	if err != nil {
		return 0, 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		if i == 4 {
			return 0, 0, nil, fmt.Errorf("%w: remaining length longer than 4 bytes", ErrProtocol)
		}
		b, err := c.br.ReadByte()
		if err != nil {
			return 0, 0, nil, err
		}
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	if n+2 > limit { // the fixed header counts in the packet size
		return hb >> 4, hb & 0x0f, nil, fmt.Errorf("%w: the broker announced a %d-byte packet (type %d), the limit is %d", ErrPacketTooLarge, n, hb>>4, limit)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(c.br, body); err != nil {
		return 0, 0, nil, err
	}
	return hb >> 4, hb & 0x0f, body, nil
}

// serve is the connection's reader: it frames packets, stamps each at the
// transport read and queues it for the owner, until the connection ends.
func (h *nativeHandle) serve(c *connReader, gen uint32) {
	for {
		typ, flags, body, err := c.read(h.p.MaxPacketSize)
		at := h.clock.Now()
		if err != nil {
			if errors.Is(err, ErrPacketTooLarge) || errors.Is(err, ErrProtocol) {
				c.Close() // do not read (or allocate) what it announced
			}
			h.push(inbound{gen: gen, kind: inLost, err: err, at: at})
			return
		}
		h.push(inbound{gen: gen, kind: inPacket, typ: typ, flags: flags, body: body, at: at})
	}
}

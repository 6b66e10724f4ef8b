// Package mosquitto starts Debian's mosquitto broker on a free loopback port
// for integration tests and stops it (by PID) when the test ends. It is the
// "real external broker" of fleetbench's test suite.
//
// Tests call Start; when the mosquitto binary is missing the test is skipped
// unless FLEETBENCH_REQUIRE_MOSQUITTO=1 (which .ci/run sets), so CI can never
// silently skip the external-broker tests.
package mosquitto

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest"
)

// Broker is a running mosquitto process.
type Broker struct {
	// Host and Port of the plain MQTT listener (127.0.0.1).
	Host string
	Port int
	// TLSPort is the port of the TLS listener on Host, 0 without one
	// (Options.TLS).
	TLSPort int
	// WSPort is the port of the MQTT over WebSocket listener on Host, 0
	// without one (Options.WebSockets); WSSPort the one of the WebSocket
	// over TLS listener (Options.WebSockets with Options.TLS).
	WSPort, WSSPort int

	t      testing.TB
	dir    string
	conf   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	output *enginetest.Buffer
}

// Options configure the broker.
type Options struct {
	// ExtraConfig is appended to the generated mosquitto.conf, after the
	// plain listener (listener settings in it apply to that listener).
	ExtraConfig string
	// TLS, when set, adds a TLS listener on a second free loopback port
	// (Broker.TLSPort, Broker.TLSURL).
	TLS *TLSFiles
	// WebSockets adds a "protocol websockets" listener on another free
	// loopback port (Broker.WSPort, Broker.WSURL), and with TLS a
	// WebSocket over TLS one (Broker.WSSPort, Broker.WSSURL) with the same
	// files. mosquitto serves MQTT over WebSocket on any path. Where the
	// installed mosquitto is built without websockets support the test is
	// skipped, saying so.
	WebSockets bool
}

// TLSFiles configure the TLS listener: PEM file paths, and whether
// clients must present a certificate signed by CAFile. Start copies the
// files into a directory the mosquitto user can read: started as root,
// mosquitto drops to that user before it loads them, and t.TempDir() is
// private to root.
type TLSFiles struct {
	// CAFile verifies client certificates (mosquitto's cafile).
	CAFile string
	// CertFile and KeyFile are the server's certificate and key.
	CertFile, KeyFile string
	// RequireClientCert rejects clients without a valid certificate
	// (require_certificate true).
	RequireClientCert bool
	// UseIdentityAsUsername makes the client certificate's CN the MQTT
	// username (use_identity_as_username true; needs RequireClientCert).
	UseIdentityAsUsername bool
}

// readable copies the PEM files into a new world-readable directory
// (removed when the test ends) and returns the copy's paths.
func (f *TLSFiles) readable(t testing.TB) (*TLSFiles, error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "fleetbench-mosquitto-tls-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	out := *f
	for name, p := range map[string]*string{"ca.pem": &out.CAFile, "cert.pem": &out.CertFile, "key.pem": &out.KeyFile} {
		data, err := os.ReadFile(*p)
		if err != nil {
			return nil, fmt.Errorf("tls files: %w", err)
		}
		dst := filepath.Join(dir, name)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return nil, err
		}
		*p = dst
	}
	return &out, nil
}

// config returns the listener block of the TLS listener on port.
func (f *TLSFiles) config(port int) string {
	return f.configProto(port, "mqtt")
}

// configProto returns the block of a TLS listener on port speaking proto
// (mqtt or websockets).
func (f *TLSFiles) configProto(port int, proto string) string {
	return fmt.Sprintf(`listener %d 127.0.0.1
protocol %s
cafile %s
certfile %s
keyfile %s
require_certificate %t
use_identity_as_username %t
`, port, proto, f.CAFile, f.CertFile, f.KeyFile, f.RequireClientCert, f.UseIdentityAsUsername)
}

// Binary returns the path of the mosquitto executable, or "" when it is not
// installed.
func Binary() string {
	for _, p := range []string{os.Getenv("FLEETBENCH_MOSQUITTO"), "/usr/sbin/mosquitto"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return ""
}

// Start runs mosquitto on a free loopback port, waits until it accepts
// connections, and registers its shutdown with t.Cleanup.
func Start(t testing.TB, opts Options) *Broker {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("FLEETBENCH_REQUIRE_MOSQUITTO") == "1" {
			t.Fatal("mosquitto is not installed (apt-get install -y mosquitto) and FLEETBENCH_REQUIRE_MOSQUITTO=1")
		}
		t.Skip("mosquitto is not installed; apt-get install -y mosquitto to run this test")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	b := &Broker{Host: "127.0.0.1", Port: port, t: t, dir: t.TempDir()}
	used := map[int]bool{port: true}
	freePort := func() int {
		for {
			p, err := FreePort()
			if err != nil {
				t.Fatalf("mosquitto: %v", err)
			}
			if !used[p] {
				used[p] = true
				return p
			}
		}
	}
	tlsListener := ""
	if opts.TLS != nil {
		if opts.TLS.CAFile == "" || opts.TLS.CertFile == "" || opts.TLS.KeyFile == "" {
			t.Fatal("mosquitto: Options.TLS needs CAFile, CertFile and KeyFile")
		}
		b.TLSPort = freePort()
		files, err := opts.TLS.readable(t)
		if err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		tlsListener = files.config(b.TLSPort)
		if opts.WebSockets {
			b.WSSPort = freePort()
			tlsListener += files.configProto(b.WSSPort, "websockets")
		}
	}
	if opts.WebSockets {
		// Besides the plain listener: mosquitto 2.0.11 exits ("Unable to
		// start any listening sockets") when websockets listeners are its
		// only ones.
		b.WSPort = freePort()
		tlsListener = fmt.Sprintf("listener %d 127.0.0.1\nprotocol websockets\n", b.WSPort) + tlsListener
	}
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	// A listener line starts a block that the listener settings after it
	// (cafile, require_certificate, …) apply to: ExtraConfig follows the
	// plain listener, the TLS listener comes last.
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 100000
max_inflight_messages 100
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
%s
%s`, port, opts.ExtraConfig, tlsListener)
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	if err := b.start(bin); err != nil {
		if opts.WebSockets && noWebSockets(b.output.String()) {
			t.Skipf("the installed mosquitto (%s) has no websockets support; skipping the MQTT over WebSocket test against it: %v", bin, err)
		}
		t.Fatalf("mosquitto: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// noWebSockets reports whether mosquitto's output says it was built
// without websockets support ("Error: Websockets support not available."
// in mosquitto 2.0's config parser).
func noWebSockets(output string) bool {
	return strings.Contains(strings.ToLower(output), "websockets support not available")
}

// WSURL returns the URL of the WebSocket listener
// (ws://127.0.0.1:port/mqtt), "" without one.
func (b *Broker) WSURL() string {
	if b.WSPort == 0 {
		return ""
	}
	return "ws://" + net.JoinHostPort(b.Host, strconv.Itoa(b.WSPort)) + "/mqtt"
}

// WSSURL returns the URL of the WebSocket over TLS listener
// (wss://127.0.0.1:port/mqtt), "" without one.
func (b *Broker) WSSURL() string {
	if b.WSSPort == 0 {
		return ""
	}
	return "wss://" + net.JoinHostPort(b.Host, strconv.Itoa(b.WSSPort)) + "/mqtt"
}

// Addr returns host:port of the listener.
func (b *Broker) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// URL returns the broker URL (mqtt://host:port).
func (b *Broker) URL() string { return "mqtt://" + b.Addr() }

// TLSAddr returns host:port of the TLS listener ("" without one).
func (b *Broker) TLSAddr() string {
	if b.TLSPort == 0 {
		return ""
	}
	return net.JoinHostPort(b.Host, strconv.Itoa(b.TLSPort))
}

// TLSURL returns the URL of the TLS listener (mqtts://host:port), "" without
// one.
func (b *Broker) TLSURL() string {
	if b.TLSPort == 0 {
		return ""
	}
	return "mqtts://" + b.TLSAddr()
}

func (b *Broker) start(bin string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := exec.Command(bin, "-c", b.conf)
	b.output = &enginetest.Buffer{}
	cmd.Stdout = b.output
	cmd.Stderr = b.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	addrs := []string{b.Addr()}
	for _, p := range []int{b.TLSPort, b.WSPort, b.WSSPort} {
		if p != 0 {
			addrs = append(addrs, net.JoinHostPort(b.Host, strconv.Itoa(p)))
		}
	}
	for len(addrs) > 0 {
		c, err := net.DialTimeout("tcp", addrs[0], 200*time.Millisecond)
		if err == nil {
			c.Close()
			addrs = addrs[1:]
			continue
		}
		select {
		case <-done:
			return fmt.Errorf("mosquitto exited at start: %s", b.output.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mosquitto did not listen on %s within 10 s: %s", addrs[0], b.output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Output returns what mosquitto has logged so far (errors and warnings,
// e.g. a TLS handshake it rejected), for test failure messages.
func (b *Broker) Output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.output.String()
}

// Stop terminates the broker (SIGTERM, then SIGKILL after 5 s). It is safe to
// call more than once.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Kill stops the broker abruptly (SIGKILL), as a crash would.
func (b *Broker) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	<-b.done
	b.cmd = nil
}

// Restart starts the broker again on the same port after Stop or Kill.
func (b *Broker) Restart() {
	b.t.Helper()
	if err := b.start(Binary()); err != nil {
		b.t.Fatalf("mosquitto restart: %v", err)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

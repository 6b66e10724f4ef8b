// Package mosquitto starts Debian's mosquitto broker on a free loopback port
// for integration tests and stops it (by PID) when the test ends. It is the
// "real external broker" of fleetbench's test suite.
//
// Tests call Start; when the mosquitto binary is missing the test is skipped
// unless FLEETBENCH_REQUIRE_MOSQUITTO=1 (which .ci/run sets), so CI can never
// silently skip the external-broker tests.
package mosquitto

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Broker is a running mosquitto process.
type Broker struct {
	// Host and Port of the plain MQTT listener (127.0.0.1).
	Host string
	Port int

	t      testing.TB
	dir    string
	conf   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	output *bytes.Buffer
}

// Options configure the broker.
type Options struct {
	// ExtraConfig is appended to the generated mosquitto.conf.
	ExtraConfig string
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
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
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
`, port, opts.ExtraConfig)
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	if err := b.start(bin); err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// Addr returns host:port of the listener.
func (b *Broker) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// URL returns the broker URL (mqtt://host:port).
func (b *Broker) URL() string { return "mqtt://" + b.Addr() }

func (b *Broker) start(bin string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := exec.Command(bin, "-c", b.conf)
	b.output = &bytes.Buffer{}
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
	for {
		c, err := net.DialTimeout("tcp", b.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("mosquitto exited at start: %s", b.output.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mosquitto did not listen on %s within 10 s", b.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
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

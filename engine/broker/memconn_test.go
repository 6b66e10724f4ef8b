package broker

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/goroutines"
)

func TestBufferedConnWritesWithoutReader(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	bc := newBufferedConn(server, 64, time.Second)
	defer bc.abort()
	// Nobody reads: the first write goes to writeLoop (blocked in the pipe),
	// the next ones queue up to the limit without blocking.
	if _, err := bc.Write(bytes.Repeat([]byte("x"), 16)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "writeLoop to take the first write", func() bool {
		bc.mu.Lock()
		defer bc.mu.Unlock()
		return len(bc.pending) == 0
	})
	done := make(chan error, 1)
	go func() {
		for range 4 {
			if _, err := bc.Write(bytes.Repeat([]byte("x"), 16)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("writes blocked although the send buffer has room")
	}
	// The queue is full now (64 bytes): the next write waits for the reader.
	blocked := make(chan struct{})
	go func() {
		bc.Write(bytes.Repeat([]byte("y"), 16))
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("write beyond the send buffer did not block")
	case <-time.After(20 * time.Millisecond):
	}
	got := make([]byte, 6*16)
	client.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	<-blocked
	if want := append(bytes.Repeat([]byte("x"), 80), bytes.Repeat([]byte("y"), 16)...); !bytes.Equal(got, want) {
		t.Fatalf("read %q", got)
	}
}

func TestBufferedConnCloseFlushes(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	bc := newBufferedConn(server, 1<<10, time.Second)
	if _, err := bc.Write([]byte("connack")); err != nil {
		t.Fatal(err)
	}
	if err := bc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(wait))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "connack" {
		t.Fatalf("read %q, %v; want the queued bytes, then EOF", got, err)
	}
	<-bc.done
}

func TestBufferedConnCloseWakesReader(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	bc := newBufferedConn(server, 1<<10, time.Second)
	read := make(chan error, 1)
	go func() {
		_, err := bc.Read(make([]byte, 1))
		read <- err
	}()
	waitFor(t, "the Read to block", func() bool { return goroutines.AllParked("broker.TestBufferedConnCloseWakesReader.func1") })
	bc.Close()
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("read succeeded")
		}
	case <-time.After(wait):
		t.Fatal("Close did not wake a blocked Read")
	}
	<-bc.done
}

func TestBufferedConnLingerBound(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	bc := newBufferedConn(server, 1<<10, 50*time.Millisecond)
	bc.Write([]byte("never read"))
	bc.Close()
	select {
	case <-bc.done:
	case <-time.After(wait):
		t.Fatal("flush to a client that never reads outlived the linger bound")
	}
}

func TestBufferedConnAbort(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	bc := newBufferedConn(server, 1<<10, time.Minute)
	bc.Write([]byte("dropped"))
	bc.abort()
	select {
	case <-bc.done:
	case <-time.After(wait):
		t.Fatal("abort did not stop writeLoop")
	}
	if _, err := bc.Write([]byte("x")); err == nil {
		t.Fatal("write after abort succeeded")
	}
}

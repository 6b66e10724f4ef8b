package cluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetbench/fleetbench/actors"
)

// Local worker processes: when one process may not hold the fleet (its
// open-files limit) or the user asks for it, the coordinator starts
// fleetbench workers on this machine itself — the distributed mode on
// loopback, with a token of its own — and stops them when the run ends.

// LocalOptions describe the worker processes StartLocal starts.
type LocalOptions struct {
	// N is the number of worker processes.
	N int
	// Executable is the fleetbench binary (default: this process's own).
	Executable string
	// Stderr receives the workers' log lines, each prefixed with the
	// worker's name ("local-1: …"); nil discards them.
	Stderr io.Writer
	// LogLevel is the workers' --log-level (default warn).
	LogLevel string
	// StartTimeout bounds the wait for every worker to listen (default
	// 30 s).
	StartTimeout time.Duration
	// Logger receives the coordinator's own messages about the workers.
	Logger *slog.Logger
}

// LocalWorkers are worker processes started on this machine.
type LocalWorkers struct {
	// Addrs are the workers' loopback addresses, in start order.
	Addrs []string
	// PIDs are their process ids, in the same order.
	PIDs []int
	// Token is the token they were started with (--token-file); a run
	// against them presents it.
	Token string

	// Names are "local-1", "local-2", … in the same order.
	Names []string

	dir      string
	stopping atomic.Bool // their output is no longer passed on
	procs    []*exec.Cmd
	exited   []chan struct{} // closed when Wait returns
	log      *slog.Logger
	once     sync.Once
}

// listenLine is what `fleetbench worker` prints on stdout once it listens.
const listenLine = "fleetbench worker listening on "

// StartLocal starts o.N worker processes on loopback, each listening on a
// port of its own choosing, and returns once every one listens. The
// workers run in their own process group, so a Ctrl-C on the terminal
// reaches the coordinator only (it drains the run, then stops them); on
// Linux each is killed when the coordinator dies. On error, any worker
// already started is stopped.
func StartLocal(ctx context.Context, o LocalOptions) (*LocalWorkers, error) {
	if o.N < 1 {
		return nil, fmt.Errorf("local workers: need at least 1, got %d", o.N)
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("local workers: finding this program: %w", err)
		}
		o.Executable = exe
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("local workers: token: %w", err)
	}
	w := &LocalWorkers{Token: hex.EncodeToString(tok[:]), log: log}
	dir, err := os.MkdirTemp("", "fleetbench-local-")
	if err != nil {
		return nil, fmt.Errorf("local workers: %w", err)
	}
	w.dir = dir
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(w.Token+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("local workers: writing the token file: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	addrs := make(chan startResult, o.N)
	for i := range o.N {
		name := fmt.Sprintf("local-%d", i+1)
		cmd := exec.Command(o.Executable, "worker", "--listen", "127.0.0.1:0", "--token-file", tokenFile, "--log-level", o.LogLevel)
		cmd.SysProcAttr = localProcAttr()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			w.Stop(0)
			return nil, fmt.Errorf("local workers: %w", err)
		}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			w.Stop(0)
			return nil, fmt.Errorf("local workers: %w", err)
		}
		if err := cmd.Start(); err != nil {
			w.Stop(0)
			return nil, fmt.Errorf("local workers: starting %s: %w", o.Executable, err)
		}
		done := make(chan struct{})
		w.procs = append(w.procs, cmd)
		w.exited = append(w.exited, done)
		w.PIDs = append(w.PIDs, cmd.Process.Pid)
		w.Names = append(w.Names, name)
		var copies sync.WaitGroup
		copies.Add(2)
		go func() { // stdout: the listen line, then anything else as log
			defer copies.Done()
			sent := false
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				if rest, ok := strings.CutPrefix(line, listenLine); ok && !sent {
					addr, _, _ := strings.Cut(rest, " ")
					addrs <- startResult{i: i, addr: addr}
					sent = true
					continue
				}
				w.prefixLine(o.Stderr, name, line)
			}
			if !sent {
				addrs <- startResult{i: i, err: fmt.Errorf("%s (pid %d) ended before it listened", name, cmd.Process.Pid)}
			}
		}()
		go func() {
			defer copies.Done()
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				w.prefixLine(o.Stderr, name, sc.Text())
			}
		}()
		go func() {
			copies.Wait() // Wait closes the pipes: read them to the end first
			err := cmd.Wait()
			log.Debug("local worker ended", "worker", name, "pid", cmd.Process.Pid, "err", err)
			close(done)
		}()
	}
	w.Addrs = make([]string, o.N)
	for range o.N {
		select {
		case r := <-addrs:
			if r.err != nil {
				w.Stop(0)
				return nil, fmt.Errorf("local workers: %w", r.err)
			}
			w.Addrs[r.i] = r.addr
		case <-ctx.Done():
			w.Stop(0)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("local workers: not all %d listened within %v", o.N, o.StartTimeout)
			}
			return nil, fmt.Errorf("local workers: %w", ctx.Err())
		}
	}
	for i, a := range w.Addrs {
		log.Info("local worker listening", "worker", i+1, "pid", w.PIDs[i], "addr", a)
	}
	return w, nil
}

type startResult struct {
	i    int
	addr string
	err  error
}

// prefixLine writes one line of a worker's output with its name, until
// the workers are being stopped (their "interrupted" notices are noise
// after the run's summary).
func (w *LocalWorkers) prefixLine(out io.Writer, name, line string) {
	if out == nil || w.stopping.Load() || strings.TrimSpace(line) == "" {
		return
	}
	fmt.Fprintf(out, "%s: %s\n", name, line)
}

// Stop ends every worker: an interrupt first, then, after timeout (or at
// once when timeout is 0), a kill; it returns when all have exited and
// removes the token file. It may be called more than once.
func (w *LocalWorkers) Stop(timeout time.Duration) {
	w.once.Do(func() {
		w.stopping.Store(true)
		for _, p := range w.procs {
			if timeout > 0 {
				p.Process.Signal(os.Interrupt)
			} else {
				p.Process.Kill()
			}
		}
		if timeout > 0 {
			deadline := time.NewTimer(timeout)
			defer deadline.Stop()
		wait:
			for i, done := range w.exited {
				select {
				case <-done:
				case <-deadline.C:
					w.log.Warn("local worker did not stop in time: killing it", "worker", i+1, "pid", w.PIDs[i])
					for _, p := range w.procs {
						p.Process.Kill()
					}
					break wait
				}
			}
		}
		for _, done := range w.exited {
			<-done
		}
		os.RemoveAll(w.dir)
	})
}

// LocalWorkersFor is the number of local worker processes a fleet of
// devices needs when each process may hold limit open files: 0 when one
// process suffices (actors.ProcessesFor).
func LocalWorkersFor(devices int, limit uint64) int { return actors.ProcessesFor(devices, limit) }

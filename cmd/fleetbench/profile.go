package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync"
)

// errWriter passes writes to w and keeps the first error: the CPU
// profiler writes from its own goroutine and StopCPUProfile reports
// nothing, so a profile that could not be written (a full disk,
// /dev/full) is only known from here.
type errWriter struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.mu.Lock()
		if e.err == nil {
			e.err = err
		}
		e.mu.Unlock()
	}
	return n, err
}

func (e *errWriter) firstErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// profiles are the --cpuprofile and --memprofile of a run. Both files are
// created before the run starts, so a path that cannot be written is
// refused at once; a write that fails later is an error of stop.
type profiles struct {
	mu       sync.Mutex
	cpuPath  string
	cpu      *os.File
	cpuW     *errWriter
	memPath  string
	mem      *os.File
	memTaken bool
	memErr   error
	stopped  bool
}

// startProfiles creates the profile files named by cpuPath and memPath
// ("" for none) and starts the CPU profile. Errors name the flag and the
// file.
func startProfiles(cpuPath, memPath string) (*profiles, error) {
	p := &profiles{cpuPath: cpuPath, memPath: memPath}
	if memPath != "" {
		f, err := os.Create(memPath)
		if err != nil {
			return nil, fmt.Errorf("--memprofile %s: %w", memPath, err)
		}
		p.mem = f
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			p.closeMem()
			return nil, fmt.Errorf("--cpuprofile %s: %w", cpuPath, err)
		}
		p.cpu, p.cpuW = f, &errWriter{w: f}
		if err := pprof.StartCPUProfile(p.cpuW); err != nil {
			f.Close()
			p.closeMem()
			return nil, fmt.Errorf("--cpuprofile %s: %w", cpuPath, err)
		}
	}
	return p, nil
}

func (p *profiles) closeMem() {
	if p.mem != nil {
		p.mem.Close()
	}
}

// heap writes the heap profile, once (the first call wins).
func (p *profiles) heap() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mem == nil || p.memTaken || p.stopped {
		return
	}
	p.memTaken = true
	w := &errWriter{w: p.mem}
	err := pprof.Lookup("heap").WriteTo(w, 0)
	if err == nil {
		err = w.firstErr()
	}
	if err != nil {
		p.memErr = fmt.Errorf("--memprofile %s: %w", p.memPath, err)
	}
}

// stop ends the CPU profile, writes the heap profile if the run ended
// before it was taken, closes both files and returns what failed.
func (p *profiles) stop() error {
	if p == nil {
		return nil
	}
	p.heap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	p.stopped = true
	var errs []error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		err := p.cpuW.firstErr()
		if err == nil {
			err = p.cpu.Sync()
			if errors.Is(err, os.ErrInvalid) {
				err = nil // not a regular file
			}
		}
		if cerr := p.cpu.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--cpuprofile %s: %w", p.cpuPath, err))
		}
	}
	if p.mem != nil {
		err := p.memErr
		if cerr := p.mem.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--memprofile %s: %w", p.memPath, cerr)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

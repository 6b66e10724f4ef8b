package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/reports"
)

// filePartial is the partial result written during a run.
const filePartial = "result.partial.json"

// results is where a run's results go: the --out directory, and when it
// cannot be written (a full or read-only disk, permissions), a fallback
// directory in the temp directory, made on the first failure and used for
// everything after it.
type results struct {
	mu       sync.Mutex
	out      string
	fallback string    // "" until needed
	stderr   io.Writer // where the move to the fallback is announced
	log      *slog.Logger
}

// fallbackDir returns the fallback directory, making it on first use:
// fleetbench-out-<timestamp>-<pid>-<random> in the temp directory.
func (r *results) fallbackDir() (string, error) {
	if r.fallback == "" {
		dir, err := os.MkdirTemp("", fmt.Sprintf("fleetbench-out-%s-%d-", time.Now().Format("20060102-150405"), os.Getpid()))
		if err != nil {
			return "", err
		}
		r.fallback = dir
	}
	return r.fallback, nil
}

// prepare creates the --out directory; when the disk refuses it
// (diskTrouble), the results go to the fallback directory from the start
// (announced on stderr). It fails when --out is a mistake (a file) or
// neither directory can be made.
func (r *results) prepare() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := os.MkdirAll(r.out, 0o755)
	if err == nil {
		return nil
	}
	if !diskTrouble(err) {
		// A mistake (--out names a file): said before anything runs.
		return fmt.Errorf("--out %s: %w", r.out, err)
	}
	dir, ferr := r.fallbackDir()
	if ferr != nil {
		return fmt.Errorf("--out %s: %v (and no fallback directory: %v)", r.out, err, ferr)
	}
	fmt.Fprintf(r.stderr, "fleetbench: --out %s: %v; the results go to %s instead\n", r.out, err, dir)
	return nil
}

// diskTrouble reports whether err is the disk's or the system's rather
// than a mistake in the path: no space or quota left, a read-only
// filesystem, no permission, an I/O error.
func diskTrouble(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// dir is the directory written to now.
func (r *results) dir() string {
	if r.fallback != "" {
		return r.fallback
	}
	return r.out
}

// partial writes res as result.partial.json (temp file + rename), moving
// to the fallback directory when --out fails.
func (r *results) partial(res *metrics.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	write := func(dir string) error {
		return reports.WriteFileAtomic(filepath.Join(dir, filePartial), func(w io.Writer) error { return reports.WriteJSON(w, res) })
	}
	err := write(r.dir())
	if err == nil || r.fallback != "" {
		if err != nil {
			r.log.Warn("could not write the partial result", "err", err)
		}
		return
	}
	dir, ferr := r.fallbackDir()
	if ferr == nil {
		ferr = write(dir)
	}
	if ferr != nil {
		r.log.Warn("could not write the partial result", "err", err, "fallback", ferr)
		return
	}
	fmt.Fprintf(r.stderr, "fleetbench: could not write the partial result to %s: %v; the results go to %s instead\n", r.out, err, dir)
}

// save writes result.json and the reports, into the fallback directory
// when --out fails. It returns the directory that holds result.json (""
// when none does) and the error of --out (nil when it held them).
func (r *results) save(res *metrics.Result, opts reports.Options) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.dir()
	err := reports.WriteAll(first, res, opts)
	if err == nil {
		os.Remove(filepath.Join(first, filePartial)) // the complete result replaces it
		return first, nil
	}
	if r.fallback != "" && first == r.fallback {
		if _, serr := os.Stat(filepath.Join(first, reports.FileJSON)); serr == nil {
			return first, err
		}
		return "", err
	}
	dir, ferr := r.fallbackDir()
	if ferr != nil {
		return "", fmt.Errorf("%w (and no fallback directory: %v)", err, ferr)
	}
	if werr := reports.WriteAll(dir, res, opts); werr != nil {
		if _, serr := os.Stat(filepath.Join(dir, reports.FileJSON)); serr == nil {
			return dir, err // result.json made it; a report did not
		}
		return "", fmt.Errorf("%w (nor in %s: %v)", err, dir, werr)
	}
	os.Remove(filepath.Join(dir, filePartial))
	return dir, err
}

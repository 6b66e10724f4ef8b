// Command budgetcheck prints the figures of a fleetbench result beside the
// budgets of the 10k-device soak issue. It is used by bench/soak.sh and
// bench/budgets.sh:
//
//	go run ./bench/budgetcheck -mode soak -warmup 120s result.json
//	go run ./bench/budgetcheck -mode ramp result.json
//	go run ./bench/budgetcheck -mode cpu result.json
//	go run ./bench/budgetcheck -mode memory result.json
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func main() {
	mode := flag.String("mode", "soak", "soak, ramp, cpu, scale or memory")
	warmup := flag.Duration("warmup", 2*time.Minute, "soak: drift is measured after this")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: budgetcheck [-mode soak|ramp|cpu|scale|memory] result.json")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	res, err := metrics.DecodeResult(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ok := true
	check := func(name string, value float64, unit string, budget float64, lowerIsBetter bool) {
		pass := value <= budget
		if !lowerIsBetter {
			pass = value >= budget
		}
		verdict := "met"
		if !pass {
			verdict, ok = "MISSED", false
		}
		op := "≤"
		if !lowerIsBetter {
			op = "≥"
		}
		fmt.Printf("%-44s %12.2f %-10s budget %s %-10g %s\n", name, value, unit, op, budget, verdict)
	}
	t := res.Totals
	s := res.Series
	switch *mode {
	case "soak":
		var warm, last *metrics.SeriesPoint
		for i := range s {
			if s[i].Connected == 0 || s[i].Tool.RSSBytes == 0 {
				continue
			}
			if warm == nil && time.Duration(s[i].T)*time.Second >= *warmup {
				warm = &s[i]
			}
			if s[i].Connected == t.Devices {
				last = &s[i]
			}
		}
		fmt.Printf("run %s → %s, %d devices, published %d, received %d\n", res.StartedAt.Format(time.RFC3339), res.EndedAt.Format(time.RFC3339), t.Devices, t.Published, t.Received)
		check("lost", float64(t.Lost), "messages", 0, true)
		check("connect_failed", float64(t.ConnectFailed), "", 0, true)
		if warm == nil || last == nil || last.T <= warm.T {
			fmt.Println("drift: the run is shorter than the warm-up")
			ok = false
			break
		}
		rss := 100 * float64(last.Tool.RSSBytes-warm.Tool.RSSBytes) / float64(warm.Tool.RSSBytes)
		gor := 100 * float64(last.Tool.Goroutines-warm.Tool.Goroutines) / float64(warm.Tool.Goroutines)
		fmt.Printf("RSS at %ds %d MB, at %ds %d MB; goroutines %d → %d\n", warm.T, warm.Tool.RSSBytes>>20, last.T, last.Tool.RSSBytes>>20, warm.Tool.Goroutines, last.Tool.Goroutines)
		check("RSS drift after warm-up", rss, "%", 5, true)
		check("goroutine drift after warm-up", gor, "%", 5, true)
		check("RSS per connected device (end)", float64(last.Tool.RSSBytes)/1024/float64(last.Connected), "KB", 40, true)
	case "ramp":
		// Sustained rate: devices connected between 10% and 90% of the
		// fleet, over the time it took.
		lo, hi := int64(float64(t.Devices)*0.1), int64(float64(t.Devices)*0.9)
		var tlo, thi int64 = -1, -1
		var clo, chi int64
		for _, p := range s {
			if tlo < 0 && p.Connected >= lo {
				tlo, clo = p.T, p.Connected
			}
			if thi < 0 && p.Connected >= hi {
				thi, chi = p.T, p.Connected
			}
		}
		if tlo < 0 || thi <= tlo {
			fmt.Println("ramp: not enough points")
			ok = false
			break
		}
		check("connection ramp (connect + subscribe)", float64(chi-clo)/float64(thi-tlo), "devices/s", 2000, false)
		check("connect_failed", float64(t.ConnectFailed), "", 0, true)
	case "cpu":
		// Steady state only: the intervals with the whole fleet connected,
		// after the ramp (its connects cost CPU of their own).
		var cpu, secs float64
		var rt int64
		for i, p := range s {
			if p.Connected != t.Devices || i == 0 || s[i-1].Connected != t.Devices || p.ConnectOK > 0 {
				continue
			}
			cpu += p.Tool.CPUSeconds
			secs += p.Seconds
			rt += p.Received
		}
		if rt == 0 {
			fmt.Println("cpu: no steady-state round trips")
			ok = false
			break
		}
		fmt.Printf("steady state: %d QoS 1 round trips in %.0f s (%.0f/s), %.2f s of tool CPU (%.0f%% of one core)\n", rt, secs, float64(rt)/secs, cpu, 100*cpu/secs)
		check("tool CPU per QoS 1 self round trip", cpu/float64(rt)*1e6, "µs", 40, true)
		check("lost", float64(t.Lost), "messages", 0, true)
	case "scale":
		var peak metrics.SeriesPoint
		for _, p := range s {
			if p.Connected >= peak.Connected {
				peak = p
			}
		}
		check("devices connected at once", float64(peak.Connected), "devices", float64(t.Devices), false)
		check("connect_failed", float64(t.ConnectFailed), "", 0, true)
		check("RSS per connected device", float64(peak.Tool.RSSBytes)/1024/float64(max(peak.Connected, 1)), "KB", 40, true)
	case "memory":
		var peak metrics.SeriesPoint
		for _, p := range s {
			if p.Connected >= peak.Connected {
				peak = p
			}
		}
		check("RSS per connected device", float64(peak.Tool.RSSBytes)/1024/float64(max(peak.Connected, 1)), "KB", 40, true)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", *mode)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// Command nativecheck computes the figures of the native device session
// budgets (BENCHMARKS.md, "Native session budgets") from fleetbench results,
// observes the connect ramp at the broker (a QoS 0 subscriber), and summarises repeated
// runs as median and spread. It is used by bench/native.sh:
//
//	go run ./bench/nativecheck memory result.json          # RSS and goroutines per device (1k → 10k plateaus)
//	go run ./bench/nativecheck idle -from 10 -to 70 result.json
//	go run ./bench/nativecheck rtt result.json
//	go run ./bench/nativecheck observe -addr 127.0.0.1:P -topic F -want N -max 60s -ready F -out arrivals.txt
//	go run ./bench/nativecheck ramp -want N arrivals.txt
//	go run ./bench/nativecheck summary figures.tsv
//
// The per-run modes print one figure a line: "name<TAB>value<TAB>unit".
// summary reads lines "measure<TAB>run<TAB>load<TAB>name<TAB>value<TAB>unit"
// (the script prefixes the first three) and prints, per figure, the median,
// the spread (min–max), the load averages and the budget's verdict.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode, args := os.Args[1], os.Args[2:]
	var err error
	switch mode {
	case "memory":
		err = memory(args)
	case "idle":
		err = idle(args)
	case "rtt":
		err = rtt(args)
	case "observe":
		err = observe(args)
	case "ramp":
		err = ramp(args)
	case "summary":
		err = summary(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nativecheck:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: nativecheck memory|idle|rtt|observe|ramp|summary [flags] FILE")
	os.Exit(2)
}

func figure(name string, value float64, unit string) {
	fmt.Printf("%s\t%.7g\t%s\n", name, value, unit)
}

func load(path string) (*metrics.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return metrics.DecodeResult(f)
}

func oneFile(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", fmt.Errorf("%s: one file expected", fs.Name())
	}
	return fs.Arg(0), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// plateau returns the RSS and goroutine medians over the last `last`
// points at which exactly `connected` devices were connected and none
// connected during the interval (the ramp's points are left out).
func plateau(s []metrics.SeriesPoint, connected int64, last int) (rss, gor float64, n int) {
	var r, g []float64
	for i := len(s) - 1; i >= 0 && len(r) < last; i-- {
		p := s[i]
		if p.Connected != connected || p.ConnectOK > 0 || p.Tool.RSSBytes == 0 {
			continue
		}
		r = append(r, float64(p.Tool.RSSBytes))
		g = append(g, float64(p.Tool.Goroutines))
	}
	return median(r), median(g), len(r)
}

// memory: the scenario ramps to a small plateau (-low devices), holds,
// then ramps to the full fleet and holds. Per device = (plateau at the
// fleet − plateau at -low) / (fleet − low): the tool's fixed cost (runtime,
// HDR recorder, broker-independent buffers) cancels out.
func memory(args []string) error {
	fs := flag.NewFlagSet("memory", flag.ContinueOnError)
	low := fs.Int64("low", 1000, "devices on the first plateau")
	last := fs.Int("last", 10, "points of each plateau used (the last ones)")
	path, err := oneFile(fs, args)
	if err != nil {
		return err
	}
	res, err := load(path)
	if err != nil {
		return err
	}
	t := res.Totals
	hiR, hiG, nh := plateau(res.Series, t.Devices, *last)
	loR, loG, nl := plateau(res.Series, *low, *last)
	if nh == 0 || nl == 0 {
		return fmt.Errorf("memory: plateaus not found (%d points at %d devices, %d at %d)", nh, t.Devices, nl, *low)
	}
	d := float64(t.Devices - *low)
	figure("rss_per_device_marginal", (hiR-loR)/1024/d, "KB")
	figure("rss_per_device_absolute", hiR/1024/float64(t.Devices), "KB")
	figure("goroutines_per_device_marginal", (hiG-loG)/d, "goroutines")
	figure("goroutines_per_device_absolute", hiG/float64(t.Devices), "goroutines")
	figure("rss_at_low", loR/(1<<20), "MB")
	figure("rss_at_fleet", hiR/(1<<20), "MB")
	figure("goroutines_at_fleet", hiG, "goroutines")
	figure("connected_peak", float64(t.ConnectedPeak), "devices")
	figure("connect_failed", float64(t.ConnectFailed), "devices")
	figure("lost", float64(t.Lost), "messages")
	figure("received", float64(t.Received), "messages")
	return nil
}

// idle: tool CPU from the series over the intervals ending in (from, to]
// with the whole fleet connected and no connects.
func idle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	from := fs.Int64("from", 10, "window start, s since the run start")
	to := fs.Int64("to", 70, "window end, s since the run start")
	path, err := oneFile(fs, args)
	if err != nil {
		return err
	}
	res, err := load(path)
	if err != nil {
		return err
	}
	t := res.Totals
	var cpu, secs float64
	for _, p := range res.Series {
		if p.T <= *from || p.T > *to || p.Connected != t.Devices || p.ConnectOK > 0 {
			continue
		}
		cpu += p.Tool.CPUSeconds
		secs += p.Seconds
	}
	if secs == 0 {
		return fmt.Errorf("idle: no point in the window with the fleet connected")
	}
	figure("idle_cpu_per_1000_series", cpu/secs*1000/(float64(t.Devices)/1000), "ms/s")
	figure("idle_window_series", secs, "s")
	figure("connected_peak", float64(t.ConnectedPeak), "devices")
	figure("published", float64(t.Published), "messages")
	return nil
}

// rtt: steady-state tool CPU per QoS 1 self round trip from the series
// (whole fleet connected, no connects), next to the whole-run count the
// script divides /usr/bin/time's CPU by.
func rtt(args []string) error {
	fs := flag.NewFlagSet("rtt", flag.ContinueOnError)
	path, err := oneFile(fs, args)
	if err != nil {
		return err
	}
	res, err := load(path)
	if err != nil {
		return err
	}
	t := res.Totals
	var cpu, secs float64
	var n int64
	for i, p := range res.Series {
		if i == 0 || p.Connected != t.Devices || res.Series[i-1].Connected != t.Devices || p.ConnectOK > 0 || p.Received == 0 {
			continue
		}
		cpu += p.Tool.CPUSeconds
		secs += p.Seconds
		n += p.Received
	}
	if n == 0 {
		return fmt.Errorf("rtt: no steady-state round trips")
	}
	figure("rtt_cpu_series_steady", cpu/float64(n)*1e6, "µs")
	figure("rtt_rate_steady", float64(n)/secs, "round trips/s")
	figure("published", float64(t.Published), "messages")
	figure("acked", float64(t.Acked), "messages")
	figure("received", float64(t.Received), "messages")
	figure("lost", float64(t.Lost), "messages")
	figure("load_phase", res.LastPublishS-res.FirstPublishS, "s")
	return nil
}

// observe is a minimal MQTT 3.1.1 subscriber (QoS 0) on the loopback
// broker: it subscribes to -topic, writes -ready once the SUBACK is in, and
// records the arrival time of every PUBLISH until -want have arrived or -max
// has passed. The ramp scenario has each device publish one QoS 0 message
// right after its SUBACK, so the arrivals are the fleet's connect + subscribe
// completions as the broker saw them.
func observe(args []string) error {
	fs := flag.NewFlagSet("observe", flag.ContinueOnError)
	addr := fs.String("addr", "", "broker host:port (127.0.0.1 only)")
	topic := fs.String("topic", "", "filter to subscribe to")
	want := fs.Int("want", 0, "stop after this many messages")
	maxT := fs.Duration("max", time.Minute, "stop after this")
	ready := fs.String("ready", "", "file created once subscribed")
	out := fs.String("out", "", "arrival times, seconds since subscribed, one a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(*addr, "127.0.0.1:") {
		return fmt.Errorf("observe: -addr must be 127.0.0.1:PORT")
	}
	c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(*maxT)
	c.SetDeadline(deadline)
	r := bufio.NewReaderSize(c, 64<<10)
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	packet := func(h byte, body []byte) []byte {
		p := []byte{h}
		n := len(body)
		for {
			b := byte(n % 128)
			n /= 128
			if n > 0 {
				b |= 0x80
			}
			p = append(p, b)
			if n == 0 {
				break
			}
		}
		return append(p, body...)
	}
	read := func() (byte, []byte, error) {
		h, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n, mul := 0, 1
		for i := 0; i < 4; i++ {
			b, err := r.ReadByte()
			if err != nil {
				return 0, nil, err
			}
			n += int(b&0x7f) * mul
			mul *= 128
			if b&0x80 == 0 {
				break
			}
		}
		body := make([]byte, n)
		_, err = io.ReadFull(r, body)
		return h, body, err
	}
	connect := append(str("MQTT"), 4, 0x02, 0, 120) // clean session, keepalive 120 s (the run is shorter)
	connect = append(connect, str(fmt.Sprintf("nativecheck-observer-%d", os.Getpid()))...)
	if _, err := c.Write(packet(0x10, connect)); err != nil {
		return err
	}
	if h, b, err := read(); err != nil || h>>4 != 2 || len(b) < 2 || b[1] != 0 {
		return fmt.Errorf("observe: no CONNACK (%v)", err)
	}
	sub := append([]byte{0, 1}, str(*topic)...)
	sub = append(sub, 0)
	if _, err := c.Write(packet(0x82, sub)); err != nil {
		return err
	}
	if h, _, err := read(); err != nil || h>>4 != 9 {
		return fmt.Errorf("observe: no SUBACK (%v)", err)
	}
	start := time.Now()
	if err := os.WriteFile(*ready, nil, 0o644); err != nil {
		return err
	}
	times := make([]float64, 0, *want)
	for len(times) < *want && time.Now().Before(deadline) {
		h, _, err := read()
		if err != nil {
			break // deadline: write what arrived
		}
		if h>>4 == 3 {
			times = append(times, time.Since(start).Seconds())
		}
	}
	var b strings.Builder
	for _, t := range times {
		fmt.Fprintf(&b, "%.6f\n", t)
	}
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

// ramp: devices connected and subscribed per second between 10 % and 90 %
// of -want arrivals, and over the whole fleet (first to last arrival).
func ramp(args []string) error {
	fs := flag.NewFlagSet("ramp", flag.ContinueOnError)
	want := fs.Int("want", 0, "fleet size")
	path, err := oneFile(fs, args)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var ts []float64
	for _, l := range strings.Fields(string(b)) {
		if v, err := strconv.ParseFloat(l, 64); err == nil {
			ts = append(ts, v)
		}
	}
	slices.Sort(ts)
	figure("ramp_subscribed_seen", float64(len(ts)), "devices")
	lo, hi := *want/10, *want*9/10
	if len(ts) <= hi || hi <= lo {
		return fmt.Errorf("ramp: %d arrivals, fewer than 90%% of %d", len(ts), *want)
	}
	figure("ramp_connect_subscribe", float64(hi-lo)/(ts[hi]-ts[lo]), "devices/s")
	if len(ts) > 1 {
		figure("ramp_whole_fleet", float64(len(ts)-1)/(ts[len(ts)-1]-ts[0]), "devices/s")
	}
	return nil
}

type budget struct {
	limit float64
	lower bool // lower is better
}

var budgets = map[string]budget{
	"rss_per_device_marginal":        {16, true},
	"goroutines_per_device_absolute": {1.2, true},
	"idle_cpu_per_1000_proc":         {1, true},
	"rtt_cpu_time_whole_run":         {20, true},
	"ramp_connect_subscribe":         {5000, false},
}

func summary(args []string) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	path, err := oneFile(fs, args)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	type key struct{ measure, name string }
	var order []key
	vals := map[key][]float64{}
	loads := map[key][]string{}
	units := map[key]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 6 {
			continue
		}
		v, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		k := key{f[0], f[3]}
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = append(vals[k], v)
		loads[k] = append(loads[k], f[2])
		units[k] = f[5]
	}
	fmt.Printf("%-8s %-34s %12s %-26s %-14s %-18s %s\n", "measure", "figure", "median", "spread (min–max), runs", "unit", "load (1-min avg)", "budget")
	for _, k := range order {
		v := vals[k]
		verdict := ""
		if bu, ok := budgets[k.name]; ok {
			m := median(v)
			pass := m <= bu.limit
			op := "≤"
			if !bu.lower {
				pass, op = m >= bu.limit, "≥"
			}
			verdict = fmt.Sprintf("%s %g: met", op, bu.limit)
			if !pass {
				verdict = fmt.Sprintf("%s %g: MISSED", op, bu.limit)
			}
		}
		fmt.Printf("%-8s %-34s %12.7g %-26s %-14s %-18s %s\n", k.measure, k.name, median(v),
			fmt.Sprintf("%.7g–%.7g, n=%d", slices.Min(v), slices.Max(v), len(v)), units[k],
			strings.Join(loads[k], " "), verdict)
	}
	return nil
}

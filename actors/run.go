package actors

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// Options configure a run. The zero value runs the scenario as written.
type Options struct {
	// Logger receives the run's logs (default: discard).
	Logger *slog.Logger
	// Progress, when set, is called once per second with the run's state.
	Progress func(Progress)
	// Abort, when it is closed after ctx was cancelled, ends the drain at
	// once (the second Ctrl-C).
	Abort <-chan struct{}
	// Memory connects devices to the embedded broker through in-memory
	// pipes instead of TCP loopback (no sockets, no port limits).
	Memory bool
	// BrokerHooks are installed in the embedded broker (fault injection,
	// tests); OnBroker is called with the embedded broker once it runs.
	BrokerHooks []mqtt.Hook
	OnBroker    func(*broker.Broker)
	// Partial, when set, receives a result of everything measured so far
	// every PartialEvery (default 10 s): what a caller writes as
	// result.partial.json so even kill -9 leaves a result.
	Partial      func(*metrics.Result)
	PartialEvery time.Duration
	// MetricsAddr, when set (e.g. "127.0.0.1:9464"), serves the live
	// metrics in the Prometheus text format at /metrics during the run.
	MetricsAddr string
	// NoFailFast keeps a run going when no device can connect (see
	// Config.NoFailFast).
	NoFailFast bool
}

// Run runs sc on this machine and returns its result: it starts the
// target (the embedded broker unless the scenario names one), the actor
// system and the coordinator. Cancelling ctx interrupts the run: ramping
// and publishing stop, in-flight messages are drained, and the result
// (marked interrupted) is still returned. Package cluster runs a scenario
// over several machines.
func Run(ctx context.Context, sc *scenarios.Scenario, opts Options) (*metrics.Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := Preflight(sc, opts.Memory); err != nil {
		return nil, err
	}
	env, dialer, auth, err := NewNodeEnv(sc, hal.NewSystemClock(), log)
	if err != nil {
		return nil, err
	}
	if _, err := hal.RaiseFDLimit(fdNeed(sc, opts.Memory)); err != nil {
		return nil, fmt.Errorf("actors: %w", err)
	}

	var emb *Embedded
	if sc.Broker.URL == "" {
		emb, err = StartEmbedded(ctx, sc, auth, "", opts, log)
		if err != nil {
			return nil, err
		}
		defer emb.Close()
		dialer.Broker = emb
		if sc.Broker.Platform == scenarios.PlatformAlibaba {
			env.Cloud = embeddedCloud{e: emb}
		}
		if opts.Memory {
			env.Endpoint = hal.Endpoint{Transport: hal.Memory}
		} else {
			env.Endpoint = hal.Endpoint{Transport: hal.TCP, Host: "127.0.0.1", Port: uint16(emb.Port())}
		}
		log.Debug("embedded broker started", "addr", emb.addr, "auth", auth.String())
	} else {
		if err := CheckOutages(sc); err != nil {
			return nil, err
		}
		for _, g := range sc.Groups {
			if g.RRPC != nil {
				return nil, fmt.Errorf("actors: %s: rrpc needs the embedded platform emulator (no RRpc OpenAPI driver is built in; see CloudDriver)", g.RRPC.Pos)
			}
		}
		if err := UseExternalEndpoints(sc, env, dialer); err != nil {
			return nil, err
		}
	}

	progress, stop, err := LiveProgress(opts, log)
	if err != nil {
		return nil, err
	}
	defer stop()
	sys := NewActorSystem()
	defer sys.Shutdown()
	done := make(chan *metrics.Result, 1)
	cfg := Config{
		Scenario: sc, Env: env, Progress: progress,
		Done:    func(r *metrics.Result) { done <- r },
		Partial: opts.Partial, PartialEvery: opts.PartialEvery, NoFailFast: opts.NoFailFast,
	}
	if emb != nil {
		cfg.Broker = emb
	}
	coord := sys.Root.Spawn(NewCoordinatorProps(cfg))
	res := Await(ctx, sys, coord, done, opts.Abort, log)
	FinishMeta(res, sc, emb, env.Endpoint)
	return res, nil
}

// Preflight runs the checks a single-node run makes of the scenario before
// it connects a device, so that validate refuses exactly what run would:
// broker_outage only against the embedded broker, the broker's TLS files
// loadable. What depends on this machine rather than on the scenario is a
// warning: the open files the fleet needs beyond the hard limit (run
// raises the soft limit itself and fails when it cannot).
func Preflight(sc *scenarios.Scenario, memory bool) (warnings []string, err error) {
	if sc.Broker.URL != "" {
		if err := CheckOutages(sc); err != nil {
			return nil, err
		}
		if _, err := CheckEndpoints(sc); err != nil {
			return nil, err
		}
	}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil {
		if w := fdWarning(sc, memory, l.Max); w != "" {
			warnings = append(warnings, w)
		}
	}
	return warnings, nil
}

// fdWarning says what a run whose open files exceed the hard limit does
// or needs ("" when they fit): against an external broker, fleetbench run
// spreads the fleet over local worker processes by itself; against the
// embedded broker over TCP, --memory or an external broker helps.
func fdWarning(sc *scenarios.Scenario, memory bool, limit uint64) string {
	need := fdNeed(sc, memory)
	if need <= limit {
		return ""
	}
	raise := fmt.Sprintf("ulimit -Hn %d as root, or nofile in /etc/security/limits.conf", need)
	if sc.Broker.URL != "" {
		per := DevicesPerProcess(limit)
		if per == 0 {
			return fmt.Sprintf("the open-files hard limit here (%d) leaves no room for devices: raise it (%s)", limit, raise)
		}
		workers := ProcessesFor(sc.Total(), limit)
		return fmt.Sprintf("one process here may hold about %d devices (open-files hard limit %d): fleetbench run spreads the %d devices over %d local worker processes by itself "+
			"(--local-workers 0 turns that off; or raise the limit: %s)", per, limit, sc.Total(), workers, raise)
	}
	return fmt.Sprintf("on this machine the run needs about %d open files but the hard limit is %d: raise it (%s), "+
		"run with --memory (in-memory pipes hold no file) or against an external broker (half the files), or use --workers", need, limit, raise)
}

// fdNeed is what a single-node run needs (see FDNeed).
func fdNeed(sc *scenarios.Scenario, memory bool) uint64 {
	switch {
	case sc.Broker.URL != "":
		return FDNeed(sc.Total(), 0)
	case memory: // in-memory pipes to the embedded broker hold no file
		return FDNeed(0, 0)
	}
	return FDNeed(sc.Total(), sc.Total())
}

// DevicesPerProcess is how many devices (one open file each, against an
// external broker) a process whose open-files limit is limit may run: the
// limit less FDNeed's room for the rest, 0 when that leaves none.
func DevicesPerProcess(limit uint64) int64 {
	if limit <= fdRoom {
		return 0
	}
	return int64(limit - fdRoom)
}

// ProcessesFor is how many processes a fleet of devices needs against an
// external broker when each may hold limit open files: 0 when one
// suffices (or when none can hold any device).
func ProcessesFor(devices int, limit uint64) int {
	per := DevicesPerProcess(limit)
	if per <= 0 || FDNeed(devices, 0) <= limit {
		return 0
	}
	return int((int64(devices) + per - 1) / per)
}

// FDNeed is the open files a process needs: one per device it runs, one
// per device connection its embedded broker serves over TCP, and room for
// the rest.
func FDNeed(devices, brokerConns int) uint64 {
	return uint64(devices) + uint64(brokerConns) + fdRoom
}

// fdRoom is the open files a process keeps for everything but device
// connections (listeners, logs, gRPC, the runtime).
const fdRoom = 512

// LiveProgress returns the progress callback of a run: opts.Progress and,
// with opts.MetricsAddr, the Prometheus endpoint serving the latest
// snapshot (stop ends it).
func LiveProgress(opts Options, log *slog.Logger) (progress func(Progress), stop func(), err error) {
	if opts.MetricsAddr == "" {
		return opts.Progress, func() {}, nil
	}
	var latest atomic.Pointer[metrics.Snapshot]
	if stop, err = serveMetrics(opts.MetricsAddr, &latest, log); err != nil {
		return nil, nil, err
	}
	return func(p Progress) {
		latest.Store(p.Snapshot)
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}, stop, nil
}

// Await waits for the result of the coordinator coord. Cancelling ctx
// interrupts the run (publishing stops, in-flight messages drain); abort,
// closed after that, ends the drain at once.
func Await(ctx context.Context, sys *actor.ActorSystem, coord *actor.PID, done <-chan *metrics.Result, abort <-chan struct{}, log *slog.Logger) *metrics.Result {
	select {
	case res := <-done:
		return res
	case <-ctx.Done():
	}
	log.Info("interrupted: draining")
	sys.Root.Send(coord, Interrupt{})
	select {
	case res := <-done:
		return res
	case <-abort:
		sys.Root.Send(coord, Interrupt{})
		return <-done
	}
}

// CheckOutages refuses broker_outage faults against a broker fleetbench
// does not run.
func CheckOutages(sc *scenarios.Scenario) error {
	for _, f := range sc.Faults {
		if f.BrokerOutage {
			return fmt.Errorf("actors: %s: broker_outage needs the embedded broker (fleetbench cannot stop %s)", f.Pos, sc.Broker.URL)
		}
	}
	return nil
}

// FinishMeta fills in the broker's counters and where the run ran.
func FinishMeta(res *metrics.Result, sc *scenarios.Scenario, emb *Embedded, ep hal.Endpoint) {
	if emb != nil {
		res.Broker = emb.stats()
		res.Meta.Broker = "embedded (mochi-mqtt, " + ep.String() + ")"
	} else {
		res.Meta.Broker = ep.String()
		if m := endpointsMeta(sc); m != "" {
			res.Meta.Broker = m
		}
	}
	res.Meta.Go = runtime.Version()
	res.Meta.Platform = runtime.GOOS + "/" + runtime.GOARCH
	res.Meta.CPUs = runtime.NumCPU()
	res.Meta.Host, _ = os.Hostname()
	res.Meta.Seed = sc.Seed
}

// NewNodeEnv builds what the device actors of one node share: recorder, clock
// and run epoch, topic index, dialer (with the scenario's source-address
// pool), fault injector; and picks the embedded broker's authentication.
func NewNodeEnv(sc *scenarios.Scenario, clock hal.Clock, log *slog.Logger) (*Env, *hal.NetDialer, broker.AuthMode, error) {
	rec, err := metrics.NewRecorder(metrics.Options{})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("actors: %w", err)
	}
	prepare(rec, sc)
	index, auth := PlanIndex(sc)
	env := &Env{
		Recorder: rec, Clock: clock, Epoch: clock.Now(), Index: index,
		Topics: iot.MQTTTopics, Logger: log, Groups: make([]metrics.GroupCounters, len(sc.Groups)),
		FirstErrors: &metrics.FirstErrors{},
		PublishQoS: func(globalIndex, stream int) (int, bool) {
			g, _, ok := sc.Locate(globalIndex)
			if !ok || stream >= len(g.Publish) {
				return 0, false
			}
			return int(g.Publish[stream].QoS), true
		},
	}
	env.applyScenario(sc)
	for _, k := range sc.StampKeys() {
		env.StampKeys = append(env.StampKeys, metrics.JSONStampKeys{Seq: k.Seq, TS: k.TS, Publisher: k.Publisher, Stream: k.Stream})
	}
	if auth == broker.AuthDevSign {
		env.Topics = iot.SDKTopics
	}
	dialer := &hal.NetDialer{}
	env.Dialer = dialer
	if len(sc.Broker.SourceAddresses) > 0 {
		if dialer.Sources, err = hal.NewSourcePool(sc.Broker.SourceAddresses); err != nil {
			return nil, nil, 0, fmt.Errorf("actors: %w", err)
		}
	}
	if len(sc.Faults) > 0 {
		env.Faults = hal.NewInjector(clock, uint64(sc.Seed))
	}
	return env, dialer, auth, nil
}

// ExternalEndpoint is the scenario's broker URL as an endpoint, with the
// dialer's TLS configuration loaded for tls://, ssl:// and wss:// URLs.
func ExternalEndpoint(sc *scenarios.Scenario, dialer *hal.NetDialer) (hal.Endpoint, error) {
	ep := hal.Endpoint{Transport: hal.TCP, Host: sc.Broker.Host, Port: uint16(sc.Broker.Port)}
	switch sc.Broker.Transport {
	case scenarios.TransportWS:
		ep.Transport, ep.Path = hal.WS, sc.Broker.Path
	case scenarios.TransportWSS:
		ep.Transport, ep.Path = hal.WSS, sc.Broker.Path
	case scenarios.TransportTLS:
		ep.Transport = hal.TLS
	}
	if !sc.Broker.Transport.Secure() {
		return ep, nil
	}
	t := sc.Broker.TLS
	if t == nil {
		t = &scenarios.TLS{}
	}
	cfg, err := (&hal.TLSConfig{
		CAFile: t.CA, CertFile: t.Cert, KeyFile: t.Key,
		ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify,
	}).Load(sc.Broker.Host)
	if err != nil {
		return ep, fmt.Errorf("actors: broker tls: %w", err)
	}
	dialer.TLSConfig = cfg
	return ep, nil
}

// prepare allocates the histograms the scenario will record into, so no
// device pays for it mid-run.
func prepare(rec *metrics.Recorder, sc *scenarios.Scenario) {
	rec.Prepare(metrics.Connect, 0)
	for _, g := range sc.Groups {
		for _, s := range g.Subscribe {
			rec.Prepare(metrics.Subscribe, int(s.QoS))
			for q := 0; q <= int(s.QoS); q++ {
				rec.Prepare(metrics.E2E, q)
			}
			if s.Reply != nil {
				for q := 0; q <= int(s.Reply.QoS); q++ {
					rec.Prepare(metrics.RoundTrip, q)
				}
			}
		}
		for _, p := range g.Publish {
			rec.Prepare(metrics.PublishAck, int(p.QoS))
			if p.Thing != nil {
				rec.Prepare(metrics.ThingReply, int(p.QoS))
			}
		}
		if g.RRPC != nil {
			rec.Prepare(metrics.RRPC, 0)
		}
	}
}

// PlanIndex indexes every subscription of the fleet (for expected deliveries)
// and picks the embedded broker's authentication: dev_sign when every group
// uses auth: alibaba, passwords when every group uses auth: password, none
// otherwise.
func PlanIndex(sc *scenarios.Scenario) (*iot.TopicIndex, broker.AuthMode) {
	index := &iot.TopicIndex{}
	shared := make(map[string]bool) // a share group receives each message once
	for _, p := range sc.Devices() {
		for _, s := range p.Subscriptions {
			filter := s.Filter
			if group, inner, ok := scenarios.SplitShared(filter); ok {
				key := group + "\x00" + inner
				if shared[key] {
					continue
				}
				shared[key] = true
				filter = inner
			}
			index.Add(filter, indexQoS(sc, s.QoS))
		}
	}
	all := func(a scenarios.Auth) bool {
		for _, g := range sc.Groups {
			if g.Auth != a {
				return false
			}
		}
		return len(sc.Groups) > 0
	}
	switch {
	case all(scenarios.AuthAlibaba):
		return index, broker.AuthDevSign
	case all(scenarios.AuthPassword):
		return index, broker.AuthPassword
	}
	return index, broker.AuthNone
}

// StartEmbedded starts the embedded broker for sc on addr (default
// 127.0.0.1 on a free port) with the run's broker hooks, and hands it to
// the run's OnBroker.
func StartEmbedded(ctx context.Context, sc *scenarios.Scenario, auth broker.AuthMode, addr string, run Options, log *slog.Logger) (*Embedded, error) {
	emb, err := startEmbedded(ctx, sc, auth, addr, run.BrokerHooks, log)
	if err == nil && run.OnBroker != nil {
		run.OnBroker(emb.Broker())
	}
	return emb, err
}

// startEmbedded configures the embedded broker's authentication for sc
// and starts it.
func startEmbedded(ctx context.Context, sc *scenarios.Scenario, auth broker.AuthMode, addr string, hooks []mqtt.Hook, log *slog.Logger) (*Embedded, error) {
	opts := broker.Options{Auth: auth, Logger: log, Hooks: hooks, Addr: addr}
	if sc.Broker.Platform == scenarios.PlatformAlibaba {
		opts.Platform = broker.PlatformAlibaba
	}
	switch auth {
	case broker.AuthDevSign:
		opts.Registry = broker.NewRegistry()
		for _, p := range sc.Devices() {
			if err := opts.Registry.Add(p.ProductKey, p.DeviceName, p.DeviceSecret); err != nil {
				return nil, fmt.Errorf("actors: embedded broker registry: %w", err)
			}
		}
	case broker.AuthPassword:
		opts.Passwords = make(map[string]string)
		for _, p := range sc.Devices() {
			opts.Passwords[p.Username] = p.Password
		}
	}
	return startEmbeddedBroker(ctx, opts)
}

// NewActorSystem returns an actor system whose own logs are discarded
// (the run logs what matters itself).
func NewActorSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

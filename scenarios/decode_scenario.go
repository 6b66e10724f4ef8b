package scenarios

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decodeScenario builds the scenario from the document root.
func (d *decoder) decodeScenario(root *node) *Scenario {
	s := &Scenario{File: d.file, Seed: DefaultSeed, Drain: DefaultDrain}
	base := filepath.Base(d.file)
	s.Name = strings.TrimSuffix(base, filepath.Ext(base))
	if root == nil {
		d.add(&Error{File: d.file, Line: 1, Col: 1, Message: "the scenario is empty",
			Hint: "start from one of scenarios/examples/*.yaml"})
		return s
	}
	if !d.object(root, "", scenarioSchema) {
		return s
	}
	if v, ok := d.str(root.get("name"), "name"); ok {
		if strings.TrimSpace(v) == "" {
			d.errf(root.get("name"), "name", "empty name")
		}
		s.Name = v
	}
	s.Description, _ = d.str(root.get("description"), "description")
	if v, ok := d.integer(root.get("seed"), "seed"); ok {
		s.Seed = v
	}
	durNode := root.get("duration")
	if v, ok := d.duration(durNode, "duration"); ok {
		if v == 0 {
			d.errf(durNode, "duration", "must be positive")
		}
		s.Duration = v
	}
	if v, ok := d.duration(root.get("drain"), "drain"); ok {
		s.Drain = v
	}
	if v, ok := d.boolean(root.get("hold"), "hold"); ok {
		s.Hold = v
	}
	d.decodeBroker(root.get("broker"), &s.Broker)

	devices := root.get("devices")
	if devices == nil {
		d.missing(root, "", "devices", "add at least one group: devices: [{name: sensors, count: 100}]",
			"required: the scenario has no devices")
	}
	items := d.list(devices, "devices", "device groups")
	if devices != nil && devices.kind == kindSeq && len(items) == 0 {
		d.errf(devices, "devices", "the list is empty; add at least one device group")
	}
	names := map[string]*Group{}
	d.countsOK = true
	for i, it := range items {
		g := d.decodeGroup(it, index("devices", i), s)
		if g == nil {
			d.countsOK = false
			continue
		}
		g.Index = len(s.Groups)
		if prev, dup := names[g.Name]; dup && g.Name != "" {
			d.errh(it.get("name"), index("devices", i)+".name",
				fmt.Sprintf("group names must be unique; the first is at line %d", prev.Pos.Line),
				"duplicate group name %q", g.Name)
		}
		names[g.Name] = g
		s.Groups = append(s.Groups, g)
	}
	d.checkAllIdentities(s)
	d.resolveTargets(names)
	d.checkPlatform(root, s)
	for _, g := range s.Groups {
		for k := range g.Publish {
			bt := g.Publish[k].Payload.t
			if bt == nil || !bt.keysOK || slices.Contains(s.stampKeys, bt.keys) {
				continue
			}
			s.stampKeys = append(s.stampKeys, bt.keys)
		}
	}

	var stageTotal time.Duration
	stages := d.list(root.get("stages"), "stages", "stages")
	for i, it := range stages {
		st, ok := d.decodeStage(it, index("stages", i), s.total)
		if !ok {
			continue
		}
		if st.Duration > math.MaxInt64-stageTotal {
			d.errf(it, index("stages", i)+".duration", "the stages last longer than %s in total", time.Duration(math.MaxInt64))
			continue
		}
		stageTotal += st.Duration
		s.Stages = append(s.Stages, st)
	}
	if durNode == nil {
		switch {
		case len(stages) == 0:
			d.missing(root, "", "duration", "add e.g. duration: 30s",
				"required: how long to run (or give stages)")
		case stageTotal == 0 && len(s.Stages) > 0:
			d.errf(root.get("stages"), "stages", "the stages last 0s in total; give them durations or set duration")
		default:
			s.Duration = stageTotal
		}
	}
	d.decodeFaults(root, s, names)
	for i, it := range d.list(root.get("thresholds"), "thresholds", "strings") {
		p := index("thresholds", i)
		if v, ok := d.str(it, p); ok {
			if strings.TrimSpace(v) == "" {
				d.errf(it, p, "empty threshold")
				continue
			}
			s.Thresholds = append(s.Thresholds, Threshold{Expr: v, Pos: d.pos(it), Set: it.set, Flag: it.flag})
		}
	}
	d.checkBounds(root, s)
	return s
}

func (d *decoder) pos(n *node) Position {
	return Position{File: d.file, Line: n.line, Col: n.col}
}

// decodeStage decodes one entry of "stages:"; total is the fleet size.
func (d *decoder) decodeStage(n *node, path string, total int) (Stage, bool) {
	if !d.object(n, path, stageSchema) {
		return Stage{}, false
	}
	st := Stage{Pos: d.pos(n)}
	ok := true
	if v, good := d.duration(n.get("duration"), join(path, "duration")); good {
		st.Duration = v
	} else if n.get("duration") == nil {
		d.missing(n, path, "duration", "e.g. duration: 1m", "required")
		ok = false
	}
	tn := n.get("target")
	if v, good := d.integer(tn, join(path, "target")); good {
		switch {
		case v < 0:
			d.errf(tn, join(path, "target"), "%d is negative", v)
		case v > int64(total) && d.countsOK:
			d.errh(tn, join(path, "target"), "a target counts devices across all groups",
				"%d is more than the %d devices of the scenario", v, total)
		default:
			st.Target = int(v)
		}
	} else if tn == nil {
		d.missing(n, path, "target", "the number of connected devices at the end of the stage", "required")
		ok = false
	}
	return st, ok
}

// decodeBroker decodes the "broker:" section into b.
func (d *decoder) decodeBroker(n *node, b *Broker) {
	if n == nil || !d.object(n, "broker", brokerSchema) {
		return
	}
	d.decodePlatform(n, b)
	if un := n.get("url"); un != nil {
		d.decodeBrokerURLs(un, b)
	}
	d.decodeBrokerSpread(n, b)
	for i, it := range d.list(n.get("source_addresses"), "broker.source_addresses", "IP addresses") {
		p := index("broker.source_addresses", i)
		v, ok := d.str(it, p)
		if !ok {
			continue
		}
		ips, err := ExpandAddresses(v)
		if err != nil {
			d.errh(it, p, `e.g. 127.0.0.2 or 127.0.0.1-127.0.0.8`, "%v", err)
			continue
		}
		if len(b.SourceAddresses)+len(ips) > MaxSourceAddresses {
			d.errh(it, p, "each address gives about 28k connections",
				"the source addresses number %d up to here, which exceeds the limit of %d", len(b.SourceAddresses)+len(ips), MaxSourceAddresses)
			break
		}
		b.SourceAddresses = append(b.SourceAddresses, ips...)
	}
	tn := n.get("tls")
	anyTLS := b.anyTLS()
	if tn == nil {
		if anyTLS {
			b.TLS = &TLS{}
		}
		return
	}
	if !d.object(tn, "broker.tls", tlsSchema) {
		return
	}
	t := &TLS{}
	if v := tn.get("ca"); v != nil {
		var ok bool
		if t.CA, ok = d.filePath(v, "broker.tls.ca"); ok {
			if msg := checkCAFile(t.CA); msg != "" {
				d.errh(v, "broker.tls.ca", "a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)", "%s", msg)
			}
		}
	}
	cert, key := tn.get("cert"), tn.get("key")
	var certOK, keyOK bool
	if cert != nil {
		t.Cert, certOK = d.filePath(cert, "broker.tls.cert")
	}
	if key != nil {
		t.Key, keyOK = d.filePath(key, "broker.tls.key")
	}
	if certOK && keyOK {
		if err := checkKeyPair(t.Cert, t.Key); err != nil {
			d.errh(cert, "broker.tls.cert", "PEM files of the client certificate and its private key",
				"cannot use %s with %s: %v", filepath.Base(t.Cert), filepath.Base(t.Key), err)
		}
	}
	if cert != nil && key == nil {
		d.errh(cert, "broker.tls.cert", "add broker.tls.key with the certificate's private key",
			"a client certificate needs a key")
	}
	if key != nil && cert == nil {
		d.errh(key, "broker.tls.key", "add broker.tls.cert", "a key without a client certificate")
	}
	if sn := tn.get("server_name"); sn != nil {
		if st, ok := d.template(sn, "broker.tls.server_name", phEnvOnly, "broker.tls.server_name"); ok {
			t.ServerName, _ = st.literal()
		}
	}
	if v, ok := d.boolean(tn.get("insecure_skip_verify"), "broker.tls.insecure_skip_verify"); ok {
		t.InsecureSkipVerify = v
	}
	switch {
	case anyTLS, platformTLS(n, b):
		b.TLS = t
	case b.URL == "" && n.get("url") == nil:
		d.errh(tn, "broker.tls", "set broker.url to an mqtts:// URL, or remove tls",
			"TLS settings need a broker URL; the embedded broker is reached over plain TCP")
	case b.Transport == TransportTCP:
		d.errh(tn, "broker.tls", "use mqtts://, ssl:// or tls:// in broker.url",
			"TLS settings with a plain TCP URL (%s)", b.URL)
	case b.Transport == TransportWS:
		d.errh(tn, "broker.tls", "use wss:// in broker.url",
			"TLS settings with a plain WebSocket URL (%s)", b.URL)
	}
}

// checkKeyPair loads a client certificate and key, each read through
// ReadFileLimited (MaxTLSFileSize).
func checkKeyPair(cert, key string) error {
	c, err := ReadFileLimited(cert, MaxTLSFileSize)
	if err != nil {
		return err
	}
	k, err := ReadFileLimited(key, MaxTLSFileSize)
	if err != nil {
		return err
	}
	_, err = tls.X509KeyPair(c, k)
	return err
}

// checkCAFile reports why a CA file cannot be used, or "".
func checkCAFile(path string) string {
	b, err := ReadFileLimited(path, MaxTLSFileSize)
	if err != nil {
		var se *SizeError
		if errors.As(err, &se) {
			return se.Error()
		}
		return fmt.Sprintf("cannot read %s: %v", path, unwrapPathError(err))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Sprintf("%s holds no PEM certificate", filepath.Base(path))
	}
	return ""
}

// parseBrokerURL fills b from a broker URL. It returns a message and hint
// when the URL is unusable.
func parseBrokerURL(raw string, b *Broker) (string, string) {
	if strings.TrimSpace(raw) == "" {
		return "empty URL", "remove broker.url to use the embedded broker"
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return fmt.Sprintf("%q has no scheme", raw), fmt.Sprintf("write mqtt://%s or mqtts://%s", raw, raw)
	}
	// The URL forms and their default ports: 1883 and 8883 are IANA's MQTT
	// ports; 80 and 443 are the ws:// and wss:// defaults of RFC 6455
	// §3 (a WebSocket broker usually has its port written: 8083, 8084,
	// 9001, 443 …). The default WebSocket path is the transport's (/mqtt).
	var tr Transport
	var port int
	switch strings.ToLower(scheme) {
	case "mqtt", "tcp":
		tr, port = TransportTCP, 1883
	case "mqtts", "ssl", "tls":
		tr, port = TransportTLS, 8883
	case "ws":
		tr, port = TransportWS, 80
	case "wss":
		tr, port = TransportWSS, 443
	default:
		return fmt.Sprintf("scheme %s:// is not an MQTT URL", scheme), "use mqtt://, tcp://, mqtts://, ssl://, tls://, ws:// or wss://"
	}
	u, err := url.Parse(strings.ToLower(scheme) + "://" + rest)
	if err != nil {
		return fmt.Sprintf("%q is not a URL: %v", raw, unwrapURLError(err)), ""
	}
	if u.User != nil {
		return "credentials in the broker URL are not used", "set username/password (or auth) in the device groups"
	}
	ws := tr == TransportWS || tr == TransportWSS
	switch {
	case ws && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(rest, "#")):
		return fmt.Sprintf("%q has a query or fragment, which a WebSocket broker URL does not take", raw),
			fmt.Sprintf("write %s://host:port/path (default path /mqtt)", scheme)
	case !ws && (u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != ""):
		return fmt.Sprintf("%q has a path or query; an MQTT URL is scheme://host:port", raw), ""
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Sprintf("%q has no host", raw), fmt.Sprintf("write %s://localhost:%d", scheme, port)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %s is out of range (1-65535)", p), ""
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return fmt.Sprintf("%q has an empty port", raw), ""
	}
	b.URL, b.Transport, b.Host, b.Port = raw, tr, host, port
	if ws {
		b.Path = u.EscapedPath()
	}
	return "", ""
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

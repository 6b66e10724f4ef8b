package scenarios

import (
	"fmt"
	"hash/maphash"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Platform profiles, the values of broker.platform. The empty profile is a
// generic MQTT broker.
const (
	// PlatformAlibaba is the Alibaba Cloud IoT Platform: its endpoints
	// (broker.alibaba), its rules (no QoS 2, retained or will messages,
	// keepalive 30 … 1200 s, shared subscriptions only with MQTT 5, one
	// connection per device identity) and its delivery semantics (at the
	// publisher's QoS).
	PlatformAlibaba = "alibaba"
)

// Platforms lists the accepted values of broker.platform (besides "").
var platforms = []string{PlatformAlibaba}

// Ports of the Alibaba Cloud IoT Platform's MQTT endpoints: TLS on 443 (the
// port IOT_Sign_MQTT reports and the one the console gives), plain TCP on
// 1883.
const (
	AlibabaTLSPort = 443
	AlibabaTCPPort = 1883
)

// AlibabaEndpoint is the "broker.alibaba:" section: where the devices
// connect when broker.url is not set.
type AlibabaEndpoint struct {
	// Region is the region of a public instance ("cn-shanghai"); empty
	// means the region of the groups (their "region:").
	Region string
	// InstanceID is the id of an Enterprise instance ("iot-06z00…"); the
	// endpoint is then "${instanceId}.mqtt.iothub.aliyuncs.com". Empty
	// means a public instance, "${productKey}.iot-as-mqtt.${region}.aliyuncs.com".
	InstanceID string
}

// Host returns the MQTT host of the endpoint for devices of product key pk
// in region (the group's region when Region is empty).
func (a *AlibabaEndpoint) Host(pk, region string) string {
	if a.InstanceID != "" {
		return a.InstanceID + ".mqtt.iothub.aliyuncs.com"
	}
	if a.Region != "" {
		region = a.Region
	}
	return pk + ".iot-as-mqtt." + region + ".aliyuncs.com"
}

// PlatformEndpoint reports whether the broker's host and port were computed
// from broker.alibaba (no broker.url was written).
func (b Broker) PlatformEndpoint() bool { return b.derived }

// AlibabaPlatform reports whether the scenario targets the Alibaba Cloud
// IoT Platform (broker.platform: alibaba).
func (b Broker) AlibabaPlatform() bool { return b.Platform == PlatformAlibaba }

// maxIdentityCheck bounds the fleets whose identities are all expanded to
// find duplicates under a platform (a hash per device); larger fleets get
// the template comparison only.
const maxIdentityCheck = 1_000_000

// maxIdentityErrors bounds the duplicate-identity errors of one scenario.
const maxIdentityErrors = 10

var (
	alibabaEndpointSchema = newSchema("broker.alibaba", scalars("region", "instance_id"), "region", "instance_id")
)

// decodePlatform decodes broker.platform and broker.alibaba (called before
// the URL, whose default port depends on the platform).
func (d *decoder) decodePlatform(n *node, b *Broker) {
	if pn := n.get("platform"); pn != nil {
		if v, ok := d.str(pn, "broker.platform"); ok {
			switch v {
			case "", PlatformAlibaba:
				b.Platform = v
			default:
				hint := suggest(v, platforms)
				if strings.EqualFold(v, "aliyun") || strings.EqualFold(v, "alibaba-cloud") || strings.EqualFold(v, "Alibaba") {
					hint = `did you mean "alibaba"?`
				}
				if hint == "" {
					hint = `accepted: alibaba (the Alibaba Cloud IoT Platform), or leave it out for a generic MQTT broker`
				}
				d.errh(pn, "broker.platform", hint, "unknown platform %q (accepted: %s)", v, strings.Join(platforms, ", "))
			}
		}
	}
	an := n.get("alibaba")
	if an == nil || !d.object(an, "broker.alibaba", alibabaEndpointSchema) {
		return
	}
	a := &AlibabaEndpoint{}
	ok := true
	if rn := an.get("region"); rn != nil {
		if v, good := d.envString(rn, "broker.alibaba.region"); !good {
			ok = false
		} else if v != "" {
			d.checkRegion(rn, "broker.alibaba.region", v)
			a.Region = v
		}
	}
	if in := an.get("instance_id"); in != nil {
		if v, good := d.envString(in, "broker.alibaba.instance_id"); !good {
			ok = false
		} else if v != "" {
			if !validInstanceID(v) {
				d.errh(in, "broker.alibaba.instance_id", `the id of an Enterprise instance as the console shows it, e.g. iot-06z00ax1o4d9ofg`,
					"%q is not an instance id (lower-case letters, digits and '-')", v)
				ok = false
			}
			a.InstanceID = v
		}
	}
	if b.Platform != PlatformAlibaba && n.get("platform") == nil {
		d.errh(an, "broker.alibaba", "add broker.platform: alibaba", "broker.alibaba needs broker.platform: alibaba")
		return
	}
	// A section whose keys all resolve to "" (${env:NAME:-} of unset
	// variables) gives no endpoint: the run uses the embedded broker,
	// which emulates the platform. So one file runs offline, and against
	// the cloud when the variable is set. An empty mapping, "alibaba: {}",
	// is the public instance in the groups' region.
	if ok && (len(an.entries) == 0 || *a != (AlibabaEndpoint{})) {
		b.Alibaba = a
	}
}

// envString decodes a string that may use ${env:NAME}.
func (d *decoder) envString(n *node, path string) (string, bool) {
	t, ok := d.template(n, path, phEnvOnly, path)
	if !ok {
		return "", false
	}
	v, _ := t.literal()
	return v, true
}

func validInstanceID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// platformPort applies the platform's default port to a broker URL
// written without one: mqtts:// is 443 on the Alibaba Cloud IoT Platform
// (8883 elsewhere).
func platformPort(raw string, b *Broker) {
	if b.Platform != PlatformAlibaba || b.Transport != TransportTLS {
		return
	}
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return
	}
	if u, err := url.Parse("x://" + rest); err == nil && u.Port() == "" {
		b.Port = AlibabaTLSPort
	}
}

// platformTLS reports whether broker.tls may be given without a URL: the
// endpoint computed from broker.alibaba is TLS.
func platformTLS(n *node, b *Broker) bool {
	return b.Platform == PlatformAlibaba && b.URL == "" && n.get("url") == nil && b.Alibaba != nil
}

// checkPlatform applies the platform's rules to the decoded scenario and
// computes its endpoint; root is the document root.
func (d *decoder) checkPlatform(root *node, s *Scenario) {
	if s.Broker.Platform != PlatformAlibaba {
		return
	}
	bn := root.get("broker")
	if s.Broker.Alibaba != nil {
		if s.Broker.URL != "" || bn.get("url") != nil {
			d.errh(bn.get("alibaba"), "broker.alibaba", "remove broker.url to connect to the endpoint of broker.alibaba, or remove broker.alibaba",
				"broker.alibaba gives the endpoint when broker.url is not set; both are set")
		} else {
			d.platformEndpoint(bn, s)
		}
	}
	groups := d.list(root.get("devices"), "devices", "device groups")
	for _, g := range s.Groups {
		if g.Index >= len(groups) {
			continue
		}
		d.checkPlatformGroup(g, groups[g.Index])
	}
}

// platformEndpoint sets the broker to the endpoint of broker.alibaba.
func (d *decoder) platformEndpoint(bn *node, s *Scenario) {
	a, b := s.Broker.Alibaba, &s.Broker
	an := bn.get("alibaba")
	host := ""
	if a.InstanceID != "" {
		host = a.Host("", "")
	} else {
		pk, region, msg := "", a.Region, ""
		for _, g := range s.Groups {
			var pks []string
			if g.creds != nil {
				pks = g.creds.productKeys()
			} else if v, lit := g.pk.literal(); lit && g.hasPK {
				pks = []string{v}
			} else if g.hasPK {
				msg = fmt.Sprintf("group %q has product keys that vary per device", g.Name)
				break
			} else {
				continue
			}
			for _, p := range pks {
				if pk != "" && p != pk {
					msg = fmt.Sprintf("the devices have product keys %q and %q", pk, p)
					break
				}
				pk = p
			}
			if msg != "" {
				break
			}
			if a.Region == "" && g.Region != "" {
				if region != "" && g.Region != region {
					msg = fmt.Sprintf("the groups are in regions %q and %q", region, g.Region)
					break
				}
				region = g.Region
			}
		}
		switch {
		case msg != "":
			d.errh(an, "broker.alibaba", "fleetbench connects every device to one endpoint: give the groups one product key and region, set broker.alibaba.instance_id (Enterprise instance) or broker.url",
				"the public-instance endpoint is ${productKey}.iot-as-mqtt.${region}.aliyuncs.com, and %s", msg)
			return
		case pk == "":
			d.errh(an, "broker.alibaba", "set product_key (or credentials_file) in a group, broker.alibaba.instance_id, or broker.url",
				"the public-instance endpoint ${productKey}.iot-as-mqtt.${region}.aliyuncs.com needs a product key, and no group has one")
			return
		}
		if region == "" {
			region = DefaultRegion
		}
		host = a.Host(pk, region)
	}
	b.Transport, b.Host, b.Port = TransportTLS, host, AlibabaTLSPort
	b.URL = "mqtts://" + host + ":" + strconv.Itoa(AlibabaTLSPort)
	b.derived = true
	if b.TLS == nil {
		b.TLS = &TLS{}
	}
}

// checkPlatformGroup applies the platform's rules to one group; gn is its
// node.
func (d *decoder) checkPlatformGroup(g *Group, gn *node) {
	if gn == nil || gn.kind != kindMap {
		return
	}
	const why = "the Alibaba Cloud IoT Platform"
	// The group's own range check may be wider than the platform's; a
	// value it rejected is not reported twice.
	if kn := gn.get("keepalive"); kn != nil && kn.kind == kindString {
		v, err := time.ParseDuration(strings.TrimSpace(kn.text))
		if err == nil && v == g.KeepAlive && (v < MinKeepAlive || v > MaxKeepAlive) {
			d.errh(kn, join(g.path, "keepalive"), "the platform accepts 30s … 1200s",
				"%s accepts keepalive only in 30 … 1200 s", why)
		}
	}
	subs := gn.get("subscribe")
	for j := range g.Subscribe {
		sp := &g.Subscribe[j]
		p := index(join(g.path, "subscribe"), j)
		it := nthItem(subs, j)
		if sp.QoS == 2 {
			d.errh(it.get("qos"), join(p, "qos"), "use qos 0 or 1", "%s does not support QoS 2", why)
		}
		if _, _, shared := SplitShared(sp.Topic); shared && g.MQTTVersion != MQTTv5 {
			d.errh(it.get("topic"), join(p, "topic"), "set mqtt_version: 5 in the group, or subscribe without $share/",
				"%s offers shared subscriptions ($share/...) only over MQTT 5", why)
		}
		if r := sp.Reply; r != nil && r.QoS == 2 {
			d.errh(it.get("reply").get("qos"), join(p, "reply.qos"), "use qos 0 or 1", "%s does not support QoS 2", why)
		}
	}
	pubs := gn.get("publish")
	for j := range g.Publish {
		ps := &g.Publish[j]
		p := index(join(g.path, "publish"), j)
		it := nthItem(pubs, j)
		if ps.QoS == 2 {
			d.errh(it.get("qos"), join(p, "qos"), "use qos 0 or 1", "%s does not support QoS 2", why)
		}
		if ps.Retain {
			d.errh(it.get("retain"), join(p, "retain"), "remove retain", "%s does not support retained messages", why)
		}
	}
}

// nthItem returns item j of list n, or n itself (for positions) when
// there is none.
func nthItem(n *node, j int) *node {
	if n != nil && n.kind == kindSeq && j < len(n.items) {
		return n.items[j]
	}
	return n
}

// checkAllIdentities reports devices that would share an identity. Under
// a platform every device's identity is expanded (fleets up to
// maxIdentityCheck): any two devices with the same product key and device
// name (auth: alibaba) or client id (other modes) are an error, whether
// they come from templates or credentials files. Otherwise groups are
// compared by their templates (checkIdentities), and the rows of the
// credentials files with each other.
func (d *decoder) checkAllIdentities(s *Scenario) {
	if s.Broker.Platform != "" && d.countsOK && s.total <= maxIdentityCheck {
		d.expandIdentities(s)
		return
	}
	d.checkIdentities(s)
	d.checkCredentialRows(s)
}

// devRef is one device: its group and index there.
type devRef struct {
	g *Group
	i int
}

// identity renders the identity of device i of g into dst: "a\x00pk\x00dn"
// for auth: alibaba, "c\x00clientid" otherwise.
func (g *Group) identity(dst []byte, i int) []byte {
	if g.Auth == AuthAlibaba {
		dst = append(dst, 'a', 0)
		if g.creds != nil {
			r := &g.creds.rows[i]
			dst = append(append(append(dst, r.pk...), 0), r.dn...)
			return dst
		}
		dst = append(g.appendTmpl(dst, &g.pk, i, nil), 0)
		return g.appendTmpl(dst, &g.dn, i, nil)
	}
	dst = append(dst, 'c', 0)
	return g.appendTmpl(dst, &g.cid, i, nil)
}

// describe names device i of g for messages.
func (r devRef) describe() string {
	if r.g.creds != nil {
		return fmt.Sprintf("%s line %d", filepath.Base(r.g.CredentialsFile), r.g.creds.line(r.i))
	}
	return fmt.Sprintf("group %q device %d", r.g.Name, r.i)
}

// expandIdentities hashes every device's identity; a repeated hash is
// confirmed by rendering both identities.
func (d *decoder) expandIdentities(s *Scenario) {
	seed := maphash.MakeSeed()
	seen := make(map[uint64]devRef, s.total)
	var buf, other []byte
	reported := 0
	for _, g := range s.Groups {
		if !g.idOK || g.Count <= 0 || g.Auth != AuthAlibaba && g.ClientID == "" {
			continue
		}
		if g.creds != nil && len(g.creds.rows) < g.Count {
			continue
		}
		for i := 0; i < g.Count; i++ {
			buf = g.identity(buf[:0], i)
			h := maphash.Bytes(seed, buf)
			prev, dup := seen[h]
			if !dup {
				seen[h] = devRef{g, i}
				continue
			}
			other = prev.g.identity(other[:0], prev.i)
			if string(other) != string(buf) {
				continue // a hash collision, not a duplicate
			}
			d.reportDuplicate(prev, devRef{g, i}, buf)
			if reported++; reported >= maxIdentityErrors {
				return
			}
		}
	}
}

// reportDuplicate reports that cur has the identity id of prev.
func (d *decoder) reportDuplicate(prev, cur devRef, id []byte) {
	parts := strings.Split(string(id[2:]), "\x00")
	what := fmt.Sprintf("client id %q", parts[0])
	if id[0] == 'a' {
		what = fmt.Sprintf("product key %q and device name %q", parts[0], parts[1])
	}
	hint := "the platform forces the older connection of a duplicated identity offline; give every device its own identity"
	if cur.g.creds != nil && prev.g.creds != nil {
		field := join(cur.g.path, "credentials_file")
		if cur.g.CredentialsFile == prev.g.CredentialsFile {
			d.add(&Error{File: cur.g.CredentialsFile, Line: cur.g.creds.line(cur.i), Col: 1, Field: field, Hint: hint,
				Message: fmt.Sprintf("duplicate row: %s already at line %d of %s", what, prev.g.creds.line(prev.i), filepath.Base(cur.g.CredentialsFile))})
			return
		}
		d.add(&Error{File: cur.g.CredentialsFile, Line: cur.g.creds.line(cur.i), Col: 1, Field: field, Hint: hint,
			Message: fmt.Sprintf("%s is also in %s", what, prev.describe())})
		return
	}
	field := join(cur.g.path, "device_name")
	if cur.g.Auth != AuthAlibaba {
		field = join(cur.g.path, "client_id")
	}
	if cur.g.creds != nil {
		field = join(cur.g.path, "credentials_file")
	}
	d.add(&Error{File: d.file, Line: cur.g.Pos.Line, Col: cur.g.Pos.Col, Field: field, Hint: hint,
		Message: fmt.Sprintf("%s and %s would have the same identity, %s", prev.describe(), cur.describe(), what)})
}

// checkCredentialRows reports rows of the credentials files with the same
// product key and device name (in one file or in two).
func (d *decoder) checkCredentialRows(s *Scenario) {
	type at struct {
		g   *Group
		row int
	}
	seen := map[string]at{}
	reported := 0
	for _, g := range s.Groups {
		if g.creds == nil || g.Auth != AuthAlibaba {
			continue
		}
		for i := range g.creds.rows {
			r := &g.creds.rows[i]
			key := r.pk + "\x00" + r.dn
			prev, dup := seen[key]
			if !dup {
				seen[key] = at{g, i}
				continue
			}
			d.reportDuplicate(devRef{prev.g, prev.row}, devRef{g, i}, []byte("a\x00"+key))
			if reported++; reported >= maxIdentityErrors {
				return
			}
		}
	}
}

// line returns the line of row i in the file (0 if unknown).
func (c *credentials) line(i int) int {
	if i < len(c.lines) {
		return c.lines[i]
	}
	return 0
}

// productKeys returns the distinct product keys of the file's rows.
func (c *credentials) productKeys() []string {
	var out []string
	for i := range c.rows {
		pk := c.rows[i].pk
		if len(out) == 0 || out[len(out)-1] != pk && !containsStr(out, pk) {
			out = append(out, pk)
		}
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decodeCustomizeInfo decodes a group's "customize_info:": the SDK's
// customize_info (3.x) or extend client id (4.x), "k=v" pairs appended to
// the signed client id.
func (d *decoder) decodeCustomizeInfo(g *Group, n *node, path string) {
	cn := n.get("customize_info")
	v, ok := d.str(cn, join(path, "customize_info"))
	if !ok {
		return
	}
	p := join(path, "customize_info")
	if g.Auth != AuthAlibaba {
		d.errh(cn, p, "set auth: alibaba, or remove it", "customize_info is part of the signed client id of auth: alibaba")
		return
	}
	for _, c := range v {
		if c < 33 || c > 126 || c == '|' {
			d.errh(cn, p, `k=v pairs separated by commas, e.g. "authtype=id2"`,
				"character %q is not allowed in customize_info (printable ASCII without spaces and '|')", c)
			return
		}
	}
	g.CustomizeInfo = v
}

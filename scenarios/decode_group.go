package scenarios

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// sdkRegions are the regions of iotx_mqtt_region_types_t (the custom
// domain is expressed with broker.url instead).
var sdkRegions = []string{"cn-shanghai", "ap-southeast-1", "ap-northeast-1", "us-west-1", "eu-central-1"}

// validGroupName reports whether s matches [a-z0-9_-]{1,64}.
func validGroupName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// groupNodes are the values of a group's fields, kept for positions.
type groupNodes struct {
	n                           *node
	path                        string
	pk, dn, ds, cid, user, pass *node
	creds, auth, region, count  *node
	okPK, okDN, okDS            bool
	idOK                        bool // the identity templates compiled
	hasPK                       bool
}

// field returns the path of the group's field k.
func (gn *groupNodes) field(k string) string { return join(gn.path, k) }

// decodeGroup decodes one entry of "devices:". s.total is the global
// index of the group's first device and grows by its count. The sections
// are decoded in this order, as later ones depend on earlier ones.
func (d *decoder) decodeGroup(n *node, path string, s *Scenario) *Group {
	if !d.object(n, path, groupSchema) {
		return nil
	}
	g := &Group{
		First:       s.total,
		KeepAlive:   DefaultKeepAlive,
		Yield:       DefaultYield,
		Client:      ClientNative,
		MQTTVersion: MQTTv311,
		SDK:         SDK320,
		Connect:     Connect{Rate: Rate{N: DefaultConnectRatePerSecond, Per: time.Second}, Timeout: DefaultConnectTimeout},
		Pos:         d.pos(n),
	}
	g.path = path
	gn := &groupNodes{n: n, path: path}
	d.decodeGroupName(g, gn)
	count := d.decodeCount(gn)
	d.decodeAuthMode(g, gn)
	d.decodeIdentity(g, gn)
	count = d.decodeCredentialsFile(g, gn, count)
	d.setCount(g, gn, s, count)
	d.decodeRegion(g, gn)
	d.decodeSession(g, gn)
	d.decodeMQTT(g, n, path)
	d.decodeConnect(g, gn)
	d.checkAuth(g, gn)
	d.decodeCustomizeInfo(g, n, path)
	g.hasPK, g.idOK = gn.hasPK, gn.idOK
	d.decodeSubscriptions(g, gn)
	d.decodePublications(g, gn)
	d.decodeRRPC(g, gn, s.Broker.Platform)
	return g
}

// decodeGroupName decodes the required "name:".
func (d *decoder) decodeGroupName(g *Group, gn *groupNodes) {
	if nn := gn.n.get("name"); nn == nil {
		d.missing(gn.n, gn.path, "name", "e.g. name: sensors", "required")
	} else if v, ok := d.str(nn, gn.field("name")); ok {
		if !validGroupName(v) {
			d.errh(nn, gn.field("name"), "use lower-case letters, digits, '_' and '-'",
				"%q is not a valid group name", v)
		}
		g.Name = v
	}
}

// decodeCount decodes "count:"; -1 when it is absent or not valid (it may
// default to the rows of the credentials file: see setCount).
func (d *decoder) decodeCount(gn *groupNodes) int {
	gn.count = gn.n.get("count")
	count := -1
	if v, ok := d.integer(gn.count, gn.field("count")); ok {
		switch {
		case v < 1:
			d.errf(gn.count, gn.field("count"), "%d is out of range (want 1 … %d)", v, MaxGroupDevices)
		case v > MaxGroupDevices:
			d.errh(gn.count, gn.field("count"), "split the fleet over several groups or nodes",
				"%d is more than the %d devices a group may hold", v, MaxGroupDevices)
		default:
			count = int(v)
		}
	}
	return count
}

// decodeAuthMode decodes "auth:" (defaulted by decodeIdentity).
func (d *decoder) decodeAuthMode(g *Group, gn *groupNodes) {
	gn.auth = gn.n.get("auth")
	v, ok := d.str(gn.auth, gn.field("auth"))
	if !ok {
		return
	}
	switch Auth(v) {
	case AuthNone, AuthPassword, AuthAlibaba:
		g.Auth = Auth(v)
		return
	}
	hint := suggest(v, []string{"none", "password", "alibaba"})
	switch strings.ToLower(v) {
	case "dev_sign", "devsign", "aliyun", "sign":
		hint = `did you mean "alibaba"? (dev_sign)`
	}
	if hint == "" {
		hint = "want none, password or alibaba"
	}
	d.errh(gn.auth, gn.field("auth"), hint, "unknown auth %q", v)
}

// decodeIdentity compiles the identity templates (product key, device
// name and secret, client id, username, password) and defaults the auth
// mode from the fields given.
func (d *decoder) decodeIdentity(g *Group, gn *groupNodes) {
	n, f := gn.n, gn.field
	gn.pk, gn.dn, gn.ds = n.get("product_key"), n.get("device_name"), n.get("device_secret")
	gn.cid, gn.user, gn.pass = n.get("client_id"), n.get("username"), n.get("password")
	gn.creds = n.get("credentials_file")
	g.pk, gn.okPK = d.template(gn.pk, f("product_key"), phForPK, "product_key")
	g.dn, gn.okDN = d.template(gn.dn, f("device_name"), phForDN, "device_name")
	g.ds, gn.okDS = d.template(gn.ds, f("device_secret"), phForDS, "device_secret")
	var okCID, okUser, okPass bool
	g.cid, okCID = d.template(gn.cid, f("client_id"), phForCID, "client_id")
	g.user, okUser = d.template(gn.user, f("username"), phForCreds, "username")
	g.pass, okPass = d.template(gn.pass, f("password"), phForCreds, "password")
	gn.idOK = (gn.pk == nil || gn.okPK) && (gn.dn == nil || gn.okDN) && (gn.ds == nil || gn.okDS) &&
		(gn.cid == nil || okCID) && (gn.user == nil || okUser) && (gn.pass == nil || okPass)
	g.ProductKey, g.DeviceName, g.DeviceSecret = g.pk.raw, g.dn.raw, g.ds.raw
	g.Username, g.Password = g.user.raw, g.pass.raw

	if g.Auth == "" {
		switch {
		case gn.ds != nil || gn.creds != nil:
			g.Auth = AuthAlibaba
		case gn.user != nil || gn.pass != nil:
			g.Auth = AuthPassword
		default:
			g.Auth = AuthNone
		}
	}
	if gn.dn == nil && gn.creds == nil {
		g.DeviceName = DefaultDeviceName
		g.dn, _ = compileTemplate(DefaultDeviceName, phForDN, "device_name", d.env)
		gn.okDN = true
	}
}

// decodeCredentialsFile reads "credentials_file:" and returns the count,
// which defaults to its rows.
func (d *decoder) decodeCredentialsFile(g *Group, gn *groupNodes, count int) int {
	f := gn.field
	if gn.creds != nil {
		if p, ok := d.filePath(gn.creds, f("credentials_file")); ok {
			g.CredentialsFile = p
			c, errs := readCredentials(p, f("credentials_file"), g.Auth == AuthAlibaba)
			for _, e := range errs {
				d.add(e)
			}
			if len(errs) == 0 {
				g.creds = c
			}
		}
		for _, conflict := range []struct {
			n    *node
			name string
		}{{gn.pk, "product_key"}, {gn.dn, "device_name"}, {gn.ds, "device_secret"}} {
			if conflict.n != nil {
				d.errh(conflict.n, f(conflict.name), "remove it or remove credentials_file",
					"%s comes from credentials_file", conflict.name)
			}
		}
	}
	switch {
	case g.creds != nil && gn.count == nil && len(g.creds.rows) > MaxGroupDevices:
		d.errh(gn.creds, f("credentials_file"), "set count, or split the file over several groups",
			"%d rows is more than the %d devices a group may hold", len(g.creds.rows), MaxGroupDevices)
	case g.creds != nil && gn.count == nil:
		count = len(g.creds.rows)
	case g.creds != nil && count > len(g.creds.rows):
		d.errh(gn.count, f("count"), "lower count or add rows; without count every row is used",
			"%d devices but %s has only %d rows", count, filepath.Base(g.CredentialsFile), len(g.creds.rows))
		count = len(g.creds.rows)
	case gn.count == nil && gn.creds == nil:
		d.missing(gn.n, gn.path, "count", "e.g. count: 100", "required: how many devices the group has")
	}
	return count
}

// setCount gives the group its devices and the scenario their global
// indexes; a group without a valid count makes the counts unknown.
func (d *decoder) setCount(g *Group, gn *groupNodes, s *Scenario, count int) {
	if count <= 0 {
		d.countsOK = false
		return
	}
	g.Count = count
	s.total += count
	if g.creds != nil {
		g.creds.truncate(count)
	}
}

// decodeRegion decodes "region:", which only auth: alibaba uses.
func (d *decoder) decodeRegion(g *Group, gn *groupNodes) {
	alibaba := g.Auth == AuthAlibaba
	gn.region = gn.n.get("region")
	g.Region = ""
	if alibaba {
		g.Region = DefaultRegion
	}
	if v, ok := d.str(gn.region, gn.field("region")); ok {
		if !alibaba {
			d.errh(gn.region, gn.field("region"), "region selects the Alibaba Cloud endpoint; set auth: alibaba or remove it",
				"region is only used with auth: alibaba")
		} else {
			d.checkRegion(gn.region, gn.field("region"), v)
			g.Region = v
		}
	}
}

// decodeSession decodes the session settings: keepalive, clean_session
// and yield.
func (d *decoder) decodeSession(g *Group, gn *groupNodes) {
	n, f := gn.n, gn.field
	if kn := n.get("keepalive"); kn != nil {
		if v, ok := d.duration(kn, f("keepalive")); ok {
			if v < MinKeepAlive || v > MaxKeepAlive {
				d.errh(kn, f("keepalive"), "the SDK accepts 30s … 1200s (20m)", "%s is out of range", v)
			} else {
				g.KeepAlive = v
			}
		}
	}
	if v, ok := d.boolean(n.get("clean_session"), f("clean_session")); ok {
		g.CleanSession = v
	}
	if yn := n.get("yield"); yn != nil {
		if v, ok := d.duration(yn, f("yield")); ok {
			if v <= 0 {
				d.errh(yn, f("yield"), "the SDK examples use 200ms", "must be positive")
			} else {
				g.Yield = v
			}
		}
	}
}

// decodeConnect decodes the "connect:" section (rate and timeout).
func (d *decoder) decodeConnect(g *Group, gn *groupNodes) {
	cn := gn.n.get("connect")
	if cn == nil || !d.object(cn, gn.field("connect"), connectSchema) {
		return
	}
	if rn := cn.get("rate"); rn != nil {
		if r, ok := d.rate(rn, gn.field("connect.rate")); ok {
			g.Connect.Rate = r
		}
	}
	if tn := cn.get("timeout"); tn != nil {
		if v, ok := d.duration(tn, gn.field("connect.timeout")); ok {
			if v <= 0 {
				d.errf(tn, gn.field("connect.timeout"), "must be positive")
			} else {
				g.Connect.Timeout = v
			}
		}
	}
}

// decodePublications decodes the "publish:" list (see decodePublish).
func (d *decoder) decodePublications(g *Group, gn *groupNodes) {
	for j, it := range d.list(gn.n.get("publish"), gn.field("publish"), "publications") {
		if pub, ok := d.decodePublish(g, gn, it, index(gn.field("publish"), j)); ok {
			g.Publish = append(g.Publish, pub)
		}
	}
}

// decodeSubscriptions decodes the "subscribe:" list.
func (d *decoder) decodeSubscriptions(g *Group, gn *groupNodes) {
	for j, it := range d.list(gn.n.get("subscribe"), gn.field("subscribe"), "subscriptions") {
		p := index(gn.field("subscribe"), j)
		if !d.object(it, p, subscribeSchema) {
			continue
		}
		sub := SubscribeSpec{Pos: d.pos(it)}
		tn := it.get("topic")
		if tn == nil {
			d.missing(it, p, "topic", "e.g. topic: /${productKey}/${deviceName}/user/get", "required")
		} else if t, ok := d.template(tn, join(p, "topic"), phForTopic, "topics"); ok {
			sub.t, sub.Topic = t, t.raw
			d.checkRefs(g, gn, tn, join(p, "topic"), &sub.t)
			if inner, ok := d.checkTopic(g, &sub.t, tn, join(p, "topic"), true); ok {
				levels := strings.Split(inner, "/")
				sub.levels, sub.multi, sub.filterOK = len(levels), levels[len(levels)-1] == "#", true
			}
		}
		sub.QoS = d.qos(it.get("qos"), join(p, "qos"))
		if rn := it.get("reply"); rn != nil {
			sub.Reply = d.decodeReply(g, gn, &sub, rn, join(p, "reply"))
		}
		g.Subscribe = append(g.Subscribe, sub)
	}
}

// checkRegion accepts the SDK's region ids.
func (d *decoder) checkRegion(n *node, path, v string) {
	for _, r := range sdkRegions {
		if r == v {
			return
		}
	}
	hint := suggest(v, sdkRegions)
	if hint == "" {
		hint = "the SDK's regions are " + strings.Join(sdkRegions, ", ") + "; for another endpoint set broker.url"
	}
	d.errh(n, path, hint, "unknown region %q", v)
}

// rate decodes a rate such as "500/s".
func (d *decoder) rate(n *node, path string) (Rate, bool) {
	if n.kind == kindInt || n.kind == kindFloat {
		d.errh(n, path, fmt.Sprintf("add a unit: %s/s", n.text), "want a rate, got %s", describe(n))
		return Rate{}, false
	}
	v, ok := d.str(n, path)
	if !ok {
		return Rate{}, false
	}
	r, err := ParseRate(v)
	if err != nil {
		d.errf(n, path, "%v", err)
		return Rate{}, false
	}
	return r, true
}

// checkAuth checks that the group's credentials fit its auth mode and sets
// the defaults that depend on it.
func (d *decoder) checkAuth(g *Group, gn *groupNodes) {
	f := func(k string) string { return join(gn.path, k) }
	hasPK := gn.pk != nil || g.creds != nil || gn.creds != nil
	switch g.Auth {
	case AuthAlibaba:
		if gn.pk == nil && gn.creds == nil {
			d.missing(gn.n, gn.path, "product_key", "auth: alibaba signs with product key, device name and secret",
				"required with auth: alibaba (or give credentials_file)")
		}
		if gn.ds == nil && gn.creds == nil {
			d.missing(gn.n, gn.path, "device_secret", "e.g. device_secret: ${env:DEVICE_SECRET}",
				"required with auth: alibaba (or give credentials_file)")
		}
	case AuthPassword:
		if gn.pass == nil {
			d.missing(gn.n, gn.path, "password", "e.g. password: ${env:MQTT_PASSWORD}", "required with auth: password")
		}
		if gn.user == nil {
			g.Username = "${deviceName}"
			g.user, _ = compileTemplate(g.Username, phForCreds, "username", d.env)
		}
	case AuthNone:
		for _, c := range []struct {
			n    *node
			name string
		}{{gn.user, "username"}, {gn.pass, "password"}} {
			if c.n != nil {
				d.errh(c.n, f(c.name), "set auth: password, or remove it",
					"auth: none sends no %s", c.name)
			}
		}
	}
	if gn.ds != nil && g.Auth != AuthAlibaba {
		d.errh(gn.ds, f("device_secret"), "set auth: alibaba, or remove it",
			"device_secret is only used with auth: alibaba")
	}

	// The default client id. auth: alibaba leaves it to the signer.
	if gn.cid == nil && g.Auth != AuthAlibaba {
		if hasPK {
			g.ClientID = "${productKey}.${deviceName}"
		} else {
			g.ClientID = "${group}.${deviceName}"
		}
		g.cid, _ = compileTemplate(g.ClientID, phForCID, "client_id", d.env)
	} else {
		g.ClientID = g.cid.raw
	}

	if gn.cid != nil && gn.idOK && g.Count > 0 && g.maxLen(&g.cid) == 0 {
		d.errh(gn.cid, f("client_id"), "remove it to use the default", "empty client id")
	}

	// Placeholders that refer to values the group does not have.
	gn.hasPK = hasPK
	d.checkRefs(g, gn, gn.dn, f("device_name"), &g.dn)
	d.checkRefs(g, gn, gn.ds, f("device_secret"), &g.ds)
	d.checkRefs(g, gn, gn.cid, f("client_id"), &g.cid)
	d.checkRefs(g, gn, gn.user, f("username"), &g.user)
	d.checkRefs(g, gn, gn.pass, f("password"), &g.pass)

	// Values of the identity fields.
	if g.creds == nil {
		if gn.pk != nil && gn.okPK {
			d.checkIDChars(g, gn.pk, f("product_key"), &g.pk, "product key", 20, alibabaPKChar)
		}
		if gn.okDN {
			at := gn.dn
			if at == nil {
				at = gn.n
			}
			d.checkIDChars(g, at, f("device_name"), &g.dn, "device name", 32, alibabaDNChar)
		}
		if gn.ds != nil && gn.okDS {
			d.checkIDChars(g, gn.ds, f("device_secret"), &g.ds, "device secret", 64, alibabaDSChar)
		}
	}

	// Every device of a group needs its own identity.
	if g.Count > 1 && g.creds == nil && gn.creds == nil && gn.idOK {
		dnAt := gn.dn
		if dnAt == nil {
			dnAt = gn.n
		}
		switch {
		case g.Auth == AuthAlibaba && !g.perDevice(&g.pk) && !g.perDevice(&g.dn):
			d.errh(dnAt, f("device_name"), "add ${index}, e.g. "+strconv.Quote(g.dn.raw+"-${index}"),
				"all %d devices of the group would be named %q", g.Count, g.dn.raw)
		case g.ClientID != "" && !g.perDevice(&g.cid) && gn.cid != nil:
			d.errh(gn.cid, f("client_id"), "add ${index} or ${deviceName}",
				"all %d devices of the group would use client id %q; the broker would disconnect all but one",
				g.Count, g.cid.raw)
		case g.ClientID != "" && !g.perDevice(&g.cid):
			d.errh(dnAt, f("device_name"), "add ${index}, e.g. "+strconv.Quote(g.dn.raw+"-${index}"),
				"all %d devices of the group would have client id %q", g.Count, g.appendTmpl(nil, &g.cid, 0, nil))
		}
	}
}

// checkRefs reports placeholders in t that refer to values the group does
// not have.
func (d *decoder) checkRefs(g *Group, gn *groupNodes, n *node, path string, t *tmpl) {
	if n == nil {
		return
	}
	if t.uses(phProductKey) && !gn.hasPK {
		d.errh(n, path, "set product_key (or credentials_file)",
			"${productKey} is used but the group has no product key")
	}
	if t.uses(phClientID) && g.ClientID == "" {
		d.errh(n, path, "set client_id, or avoid ${clientId}",
			"${clientId} is not known before signing for auth: alibaba")
	}
}

// Characters the Alibaba console allows in identities.
func alibabaPKChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func alibabaDNChar(c rune) bool {
	return alibabaPKChar(c) || strings.ContainsRune("-_@.:", c)
}

func alibabaDSChar(c rune) bool { return c >= 32 && c <= 126 }

// genericIDChar is the rule for identities of other auth modes: they end
// up in topics, so no topic separators or wildcards.
func genericIDChar(c rune) bool {
	return c >= 32 && c != 127 && c != '/' && c != '+' && c != '#' && c != utf8.RuneError
}

// checkIDChars checks the literal characters and the expanded length of an
// identity template.
func (d *decoder) checkIDChars(g *Group, n *node, path string, t *tmpl, what string, maxLen int, alibabaOK func(rune) bool) {
	ok := genericIDChar
	if g.Auth == AuthAlibaba {
		ok = alibabaOK
	}
	if what == "device secret" && g.Auth != AuthAlibaba {
		return
	}
	for _, c := range t.literalText() {
		if !ok(c) {
			hint := ""
			if g.Auth == AuthAlibaba {
				switch what {
				case "product key":
					hint = "Alibaba product keys are letters and digits"
				case "device name":
					hint = "Alibaba device names use letters, digits and - _ @ . :"
				default:
					hint = "use printable ASCII"
				}
			}
			d.errh(n, path, hint, "character %q is not allowed in a %s", c, what)
			return
		}
	}
	if g.maxLen(t) == 0 {
		d.errf(n, path, "the %s is empty", what)
		return
	}
	if g.Auth == AuthAlibaba && g.Count > 0 {
		if l := g.maxLen(t); l > maxLen {
			ex := string(g.appendTmpl(nil, t, g.Count-1, nil))
			d.errf(n, path, "the %s is up to %d characters (e.g. %q); the SDK allows %d", what, l, ex, maxLen)
		}
	}
}

// checkIdentities reports groups whose devices would share identities
// with another group's: the same product key and device names under
// auth: alibaba, or the same client ids otherwise.
func (d *decoder) checkIdentities(s *Scenario) {
	seen := map[string]*Group{}
	for _, g := range s.Groups {
		if g.creds != nil {
			continue
		}
		var key string
		if g.Auth == AuthAlibaba {
			if g.dn.uses(phGroup) || g.dn.uses(phGlobalIndex) || g.pk.uses(phGroup) || g.pk.uses(phGlobalIndex) {
				continue
			}
			key = "alibaba\x00" + g.pk.canonical() + "\x00" + g.dn.canonical()
		} else {
			if g.cid.uses(phGroup) || g.cid.uses(phGlobalIndex) ||
				g.cid.uses(phDeviceName) && (g.dn.uses(phGroup) || g.dn.uses(phGlobalIndex)) ||
				g.cid.uses(phProductKey) && (g.pk.uses(phGroup) || g.pk.uses(phGlobalIndex)) {
				continue
			}
			key = "cid\x00" + g.pk.canonical() + "\x00" + g.dn.canonical() + "\x00" + g.cid.canonical()
		}
		if prev, ok := seen[key]; ok {
			d.add(&Error{File: d.file, Line: g.Pos.Line, Col: g.Pos.Col, Field: g.path + ".device_name",
				Message: fmt.Sprintf("devices of groups %q and %q would have the same identities (client ids or product key and device names)", prev.Name, g.Name),
				Hint:    `make device_name differ, e.g. "${group}-${index}"`})
			continue
		}
		seen[key] = g
	}
}

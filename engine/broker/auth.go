package broker

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetbench/fleetbench/engine/devsign"
)

// AuthMode selects how CONNECT packets are authenticated.
type AuthMode int

const (
	// AuthNone accepts every CONNECT and allows every topic (the default).
	AuthNone AuthMode = iota
	// AuthPassword accepts a CONNECT whose username is a key of
	// Options.Passwords and whose password is its value; every topic is
	// allowed.
	AuthPassword
	// AuthDevSign accepts a CONNECT whose username is "${dn}&${pk}" of a
	// device in Options.Registry and whose password is
	// devsign.Password(pk, dn, ds); each device is confined to its own
	// topics plus Options.Grants (see Options.Grants).
	AuthDevSign
)

// String returns "none", "password" or "devsign".
func (m AuthMode) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthPassword:
		return "password"
	case AuthDevSign:
		return "devsign"
	}
	return fmt.Sprintf("AuthMode(%d)", int(m))
}

// ParseAuthMode is the inverse of AuthMode.String ("" means none).
func ParseAuthMode(s string) (AuthMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return AuthNone, nil
	case "password":
		return AuthPassword, nil
	case "devsign", "dev_sign", "dev-sign":
		return AuthDevSign, nil
	}
	return 0, fmt.Errorf("broker: unknown auth mode %q (want none, password or devsign)", s)
}

// Registry is the set of devices AuthDevSign accepts. It is safe for
// concurrent use; adding a device is a map insert (the password is derived
// when the device connects), so registering 100k devices is cheap. The zero
// value is an empty registry; it must not be copied after first use.
type Registry struct {
	devices sync.Map // username "${dn}&${pk}" → device secret (string)
	n       atomic.Int64
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Add registers a device, replacing the secret of an already registered
// one. The triple must pass devsign.Meta.Validate, and the product key must
// not contain '&' (the username separator).
func (r *Registry) Add(pk, dn, ds string) error {
	if err := (devsign.Meta{ProductKey: pk, DeviceName: dn, DeviceSecret: ds}).Validate(); err != nil {
		return fmt.Errorf("broker: register device %s.%s: %w", pk, dn, err)
	}
	if strings.IndexByte(pk, '&') >= 0 {
		return fmt.Errorf("broker: register device %s.%s: product key contains '&'", pk, dn)
	}
	if _, loaded := r.devices.Swap(dn+"&"+pk, ds); !loaded {
		r.n.Add(1)
	}
	return nil
}

// Len returns the number of registered devices.
func (r *Registry) Len() int { return int(r.n.Load()) }

// secret returns the device secret registered for username.
func (r *Registry) secret(username string) (string, bool) {
	v, ok := r.devices.Load(username)
	if !ok {
		return "", false
	}
	return v.(string), true
}

// splitUsername splits "${dn}&${pk}" at its last '&' (product keys contain
// none; see Registry.Add).
func splitUsername(u string) (pk, dn string, ok bool) {
	i := strings.LastIndexByte(u, '&')
	if i <= 0 || i == len(u)-1 {
		return "", "", false
	}
	return u[i+1:], u[:i], true
}

// errNoRegistry is returned by New for AuthDevSign without a Registry.
var errNoRegistry = errors.New("broker: devsign authentication needs Options.Registry")

// hook is fleetbench's mochi hook: authentication, ACL and the counters
// mochi's system.Info does not keep.
type hook struct {
	mqtt.HookBase
	mode      AuthMode
	passwords map[string]string
	registry  *Registry
	acl       topicACL // *acl, or *platformACL under platform: alibaba

	refusedUsername atomic.Int64
	refusedUnknown  atomic.Int64
	refusedPassword atomic.Int64
	publishDenied   atomic.Int64
	subscribeDenied atomic.Int64
	qosDropped      atomic.Int64
}

// ID implements mqtt.Hook.
func (h *hook) ID() string { return "fleetbench" }

// Provides implements mqtt.Hook.
func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnQosDropped:
		return true
	}
	return false
}

// OnConnectAuthenticate implements mqtt.Hook. A false return makes mochi
// answer CONNACK "not authorized" (return code 5 for MQTT 3.1.1).
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	switch h.mode {
	case AuthPassword:
		want, ok := h.passwords[string(pk.Connect.Username)]
		if !ok {
			h.refusedUnknown.Add(1)
			return false
		}
		if subtle.ConstantTimeCompare(pk.Connect.Password, []byte(want)) != 1 {
			h.refusedPassword.Add(1)
			return false
		}
		return true
	case AuthDevSign:
		user := string(pk.Connect.Username)
		prod, dev, ok := splitUsername(user)
		if !ok {
			h.refusedUsername.Add(1)
			return false
		}
		ds, ok := h.registry.secret(user)
		if !ok {
			h.refusedUnknown.Add(1)
			return false
		}
		if subtle.ConstantTimeCompare(pk.Connect.Password, []byte(devsign.Password(prod, dev, ds))) != 1 {
			h.refusedPassword.Add(1)
			return false
		}
		return true
	}
	return true
}

// OnACLCheck implements mqtt.Hook. mochi calls it with write=true for each
// PUBLISH a client sends, and with write=false both for each SUBSCRIBE
// filter and for each delivery of a message to a subscriber.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.mode != AuthDevSign {
		return true
	}
	pk, dn, ok := splitUsername(string(cl.Properties.Username))
	if ok && h.acl.allows(pk, dn, topic, !write) {
		return true
	}
	if write {
		h.publishDenied.Add(1)
	} else {
		h.subscribeDenied.Add(1)
	}
	return false
}

// OnQosDropped implements mqtt.Hook.
func (h *hook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	h.qosDropped.Add(1)
}

package scenarios

// schema lists the keys a mapping may hold and what each key holds. It is
// used to reject unknown keys (with a suggestion) and to check the paths of
// --set overrides. The tables are never modified.
type schema struct {
	name   string // for messages: "scenario", "device group", ...
	keys   []string
	fields map[string]field
	// anyKey: the mapping holds keys of the user's choosing, each with a
	// scalar value (user_properties).
	anyKey bool
}

// lookup returns the field of key; ok is false for a key the schema does
// not know.
func (s *schema) lookup(key string) (f field, ok bool) {
	if s.anyKey {
		return field{}, true
	}
	f, ok = s.fields[key]
	return f, ok
}

// field describes the value of one key.
type field struct {
	obj  *schema // the value is a mapping of this schema
	list *schema // the value is a list of mappings of this schema
	// scalarList: the value is a list of scalars.
	scalarList bool
}

func newSchema(name string, fields map[string]field, order ...string) *schema {
	return &schema{name: name, keys: order, fields: fields}
}

func scalars(keys ...string) map[string]field {
	m := make(map[string]field, len(keys))
	for _, k := range keys {
		m[k] = field{}
	}
	return m
}

func with(m map[string]field, key string, f field) map[string]field {
	m[key] = f
	return m
}

var (
	tlsSchema = newSchema("broker.tls",
		scalars("ca", "cert", "key", "server_name", "insecure_skip_verify"),
		"ca", "cert", "key", "server_name", "insecure_skip_verify")

	brokerSchema = newSchema("broker",
		with(with(with(with(with(scalars("failover", "platform"), "weights", field{scalarList: true}), "url", field{scalarList: true}),
			"tls", field{obj: tlsSchema}), "source_addresses", field{scalarList: true}), "alibaba", field{obj: alibabaEndpointSchema}),
		"url", "weights", "failover", "platform", "alibaba", "tls", "source_addresses")

	connectSchema = newSchema("connect", scalars("rate", "timeout"), "rate", "timeout")

	replySchema = newSchema("reply", scalars("topic", "qos"), "topic", "qos")

	subscribeSchema = newSchema("subscription",
		with(scalars("topic", "qos"), "reply", field{obj: replySchema}),
		"topic", "qos", "reply")

	payloadSchema = newSchema("payload", scalars("size", "template"), "size", "template")

	publishSchema = newSchema("publication",
		with(scalars("topic", "qos", "interval", "rate", "retain", "count", "start", "targets",
			"thing", "event", "params"),
			"payload", field{obj: payloadSchema}),
		"topic", "qos", "interval", "rate", "payload", "retain", "count", "start", "targets",
		"thing", "event", "params")

	userPropertiesSchema = &schema{name: "user_properties", anyKey: true}

	mqtt5Schema = newSchema("mqtt5",
		with(scalars("session_expiry", "receive_maximum", "topic_aliases"),
			"user_properties", field{obj: userPropertiesSchema}),
		"session_expiry", "receive_maximum", "topic_aliases", "user_properties")

	groupSchema = newSchema("device group",
		with(with(with(with(with(scalars("name", "count", "product_key", "device_name", "device_secret",
			"credentials_file", "auth", "region", "client_id", "username", "password",
			"keepalive", "clean_session", "yield",
			"client", "mqtt_version", "sdk", "request_timeout", "max_packet_size", "customize_info"),
			"connect", field{obj: connectSchema}),
			"subscribe", field{list: subscribeSchema}),
			"publish", field{list: publishSchema}),
			"mqtt5", field{obj: mqtt5Schema}),
			"rrpc", field{obj: rrpcSchema}),
		"name", "count", "product_key", "device_name", "device_secret", "credentials_file",
		"auth", "region", "client_id", "username", "password", "keepalive", "clean_session",
		"connect", "subscribe", "publish", "yield",
		"client", "mqtt_version", "sdk", "request_timeout", "max_packet_size", "mqtt5", "customize_info", "rrpc")

	stageSchema = newSchema("stage", scalars("duration", "target"), "duration", "target")

	faultSchema = newSchema("fault",
		scalars("at", "for", "group", "fraction", "latency", "jitter", "bandwidth",
			"stall", "cut", "refuse", "broker_outage"),
		"at", "for", "group", "fraction", "latency", "jitter", "bandwidth",
		"stall", "cut", "refuse", "broker_outage")

	churnSchema = newSchema("churn entry",
		scalars("group", "fraction", "every", "down", "start"),
		"group", "fraction", "every", "down", "start")

	scenarioSchema = newSchema("scenario",
		with(with(with(with(with(with(scalars("name", "description", "seed", "duration", "drain", "hold"),
			"broker", field{obj: brokerSchema}),
			"devices", field{list: groupSchema}),
			"stages", field{list: stageSchema}),
			"faults", field{list: faultSchema}),
			"churn", field{list: churnSchema}),
			"thresholds", field{scalarList: true}),
		"name", "description", "seed", "duration", "drain", "hold", "broker", "devices", "stages",
		"faults", "churn", "thresholds")
)

// isExtensionKey reports whether a top-level key is an extension field,
// ignored by the loader: "x-defaults: &defaults {...}" holds anchors for
// merge keys, as in docker-compose files.
func isExtensionKey(s *schema, key string) bool {
	return s == scenarioSchema && len(key) > 2 && key[:2] == "x-"
}

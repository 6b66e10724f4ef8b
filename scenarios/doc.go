// Package scenarios reads fleetbench scenario files: YAML documents that
// describe a fleet of simulated devices (groups of devices that behave like
// Alibaba Cloud IoT SDK devices), the broker they connect to, how the fleet
// ramps up (k6-style stages) and what each device subscribes to and
// publishes.
//
// Loading is strict. Unknown keys, wrong types and out-of-range values are
// errors; every error names the file, line, column and field path, for
// example
//
//	quick.yaml:12:9: devices[0].publish[1].qos: 3 is not a QoS (want 0, 1 or 2)
//
// and all errors of a file are reported together (see Error and ErrorList).
// Overrides from the command line (--set devices[0].count=50) are applied to
// the YAML before validation with Document.ApplySet, so they are validated
// like the file itself; "devices[*].client=paho" sets a field of every
// group, and Document.ApplyFlag does the same on behalf of another flag
// (the CLI's --client), whose name the errors then give.
//
// Each group also says how its devices speak MQTT: client (native, the
// default, or paho), mqtt_version (3.1.1, the default, or 5), sdk (the SDK
// profile whose timings apply: 3.2.0, the default, 3.0.1 or 4.x),
// request_timeout and max_packet_size (0 or absent: the profile's), and
// with mqtt_version: 5 an "mqtt5:" section (session_expiry,
// receive_maximum, topic_aliases, user_properties). See Group and MQTT5.
//
// Strings that name devices and topics may contain placeholders, resolved
// per device unless noted:
//
//	${index}              0-based index of the device in its group
//	${global_index}       0-based index of the device in the scenario
//	${group}              the group's name
//	${productKey}         the device's product key
//	${deviceName}         the device's name (default dev-${index})
//	${clientId}           the device's MQTT client id (not for auth: alibaba
//	                      unless client_id is set: the signer builds it)
//	${seq}                payload templates: the message's sequence number in its stream
//	${ts}                 payload templates: the intended send time in nanoseconds
//	${publisher}          payload templates: the publishing device's id
//	${stream}             payload templates: the index of the publish entry
//	${target.index}       targeted topics: the target device's index
//	${target.productKey}  targeted topics: the target device's product key
//	${target.deviceName}  targeted topics: the target device's name
//	${target.clientId}    targeted topics: the target device's client id
//	${topic[N]}           reply topics: level N of the received topic (0-based)
//	${env:NAME}           an environment variable, resolved at load; a missing
//	                      variable is an error unless a default is given:
//	                      ${env:NAME:-default}
//
// Numeric placeholders take a zero-padding width: ${index:05} gives 00042.
// The placeholders of payload templates are left for the publisher to
// fill at send time (see Payload.AppendTemplate). A receiver finds them in
// a JSON payload under the member names Payload.StampKeys reports, so
// write them as top-level members: {"seq":${seq},"ts":${ts},...}.
// Write $${ for a literal ${.
//
// Traffic patterns beyond a device talking to itself:
//
//   - Shared subscriptions: a subscribe topic "$share/<group>/<filter>"
//     makes the subscribers of the group share the messages of the filter
//     (each message goes to one of them). See SplitShared.
//   - Request/response (the SDK's RRPC shape): a subscription with
//     "reply: {topic: …, qos: …}" answers every message it receives. The
//     reply topic may use ${topic[N]}, level N of the received topic
//     (0-based, split on '/'). See Reply.
//   - Targeted publishing (cloud to device): a publish entry with
//     "targets: <group>" sends each message to the next device of that
//     group, round robin; its topic may use ${target.index},
//     ${target.productKey}, ${target.deviceName} and ${target.clientId}.
//     See Publication.TopicFor and Publication.Target.
//
// Within each tick of the ramp the coordinator starts groups in file
// order, so list consumers and responders before the devices that publish
// to them (and give the publishers a start delay).
//
// "faults:" is a timeline of network impairments (latency, jitter,
// bandwidth, stalls, cut and refused connections) for some devices, or of
// broker outages, and "churn:" disconnects a fraction of the devices
// periodically. Which devices are affected is derived from the seed (see
// Scenario.Selected), so it is the same on every run and every node.
//
// A validated Scenario expands into one DevicePlan per device with
// Scenario.Devices (or Range and Plan for a part of the fleet). Plans are
// computed on demand from templates compiled at load, so a fleet of a
// million devices costs nothing until its plans are used. TargetAt,
// GroupTargetsAt and Split turn the stages into a connect schedule.
//
// The package depends on no other fleetbench package.
package scenarios

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
// like the file itself.
//
// Strings that name devices and topics may contain placeholders, resolved
// per device:
//
//	${index}         0-based index of the device in its group
//	${global_index}  0-based index of the device in the scenario
//	${group}         the group's name
//	${productKey}    the device's product key
//	${deviceName}    the device's name (default dev-${index})
//	${clientId}      the device's MQTT client id (not for auth: alibaba
//	                 unless client_id is set: the signer builds it)
//	${env:NAME}      an environment variable, resolved at load; a missing
//	                 variable is an error unless a default is given:
//	                 ${env:NAME:-default}
//
// Numeric placeholders take a zero-padding width: ${index:05} gives 00042.
// Payload templates may also use ${seq}, ${ts} and ${publisher}, which are
// left for the publisher to fill at send time (see Payload.AppendTemplate).
// Write $${ for a literal ${.
//
// A validated Scenario expands into one DevicePlan per device with
// Scenario.Devices (or Range and Plan for a part of the fleet). Plans are
// computed on demand from templates compiled at load, so a fleet of a
// million devices costs nothing until its plans are used. TargetAt,
// GroupTargetsAt and Split turn the stages into a connect schedule.
//
// The package depends on no other fleetbench package.
package scenarios

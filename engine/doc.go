// Package engine is the bottom floor of fleetbench: the device connection
// engine, which knows nothing of actors, reports or the CLI. Its packages:
//
//   - iot: the device API modelled on IOT_MQTT_* (handle, native MQTT
//     3.1.1/5.0 session or paho, yield, callbacks, events, SDK profiles)
//   - devsign: IOT_Sign_MQTT (host, client id, username, password)
//   - hal: the HAL: clock, transports (TCP, TLS, in-memory, source-address
//     pools), name resolution, fault injection
//   - broker: the embedded MQTT broker (mochi) with dev_sign auth and
//     per-device ACLs
//   - metrics: HDR recorders, counters, snapshots, the result model and its
//     verdict
//   - enginetest: test harnesses shared by every layer's tests (mosquitto,
//     a misbehaving broker, a test PKI)
//
// The floors above: actors (the fleet runtime: device actors, the
// coordinator, the run; actors/cluster for distributed runs) and reports
// (rendering results), both driven by cmd/fleetbench. Imports point down
// only; TestLayering keeps them so.
package engine

// Package cluster runs a scenario over several machines on Proto.Actor
// remote: ServeWorker is the worker service (the fleetbench-node kind),
// Run the coordinator's side. Run checks every worker answers and accepts
// the token (token-checked gRPC, optional mutual TLS), measures each
// node's clock offset, partitions the fleet by group and index range
// weighted by the nodes' CPUs, has every node run the actors coordinator
// on its share, starts them together and merges their reports into one
// result; a node that dies or goes silent is declared lost and the run
// goes on without it. The messages are the protobuf types of
// actors/remotepb.
package cluster

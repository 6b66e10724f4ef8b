// Package remotepb holds the protobuf messages a distributed run's
// coordinator and nodes exchange over Proto.Actor remote. The Go code is
// generated from fleetbench_remote.proto and committed; regenerate it with
// `go generate ./actors/remotepb` (protoc and protoc-gen-go v1.36.10 on PATH).
package remotepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative fleetbench_remote.proto

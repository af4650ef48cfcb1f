// Package e6xpb holds the Go code generated from the project's own proto
// files for the engine's QueryEngineService and ClusterService. The protos
// match the engine's wire names, field numbers and types (see PROTOCOL.md);
// they declare no proto package, so the method names are
// "/QueryEngineService/<method>" and "/ClusterService/<method>".
//
// Regenerate with "go generate ./client/e6xpb". It needs protoc 3.21.12 (the
// Debian protobuf-compiler package) on PATH; the plugins are the module's
// tool dependencies, so their versions come from go.mod.
package e6xpb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative cluster.proto e6x_engine.proto"

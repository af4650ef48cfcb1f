package resultenc

// The reference Thrift code for the benchmark of the decoder: thrift
// 0.17.0 (Debian package thrift-compiler), formatted with gofmt.
//go:generate sh -c "rm -rf thriftgen && thrift --gen go:package_prefix=github.com/e6coord/e6coord/client/internal/resultenc/,skip_remote -out . result.thrift && gofmt -w thriftgen"

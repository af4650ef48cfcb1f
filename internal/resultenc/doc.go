// Package resultenc reads and writes the two encodings in which the engine
// returns query results (see PROTOCOL.md, "Result encodings"):
//
//   - the result metadata of GetResultMetadataResponse.resultMetaData, a Java
//     DataOutputStream record of the total row count and the columns
//     ([EncodeMetadata], [DecodeMetadata]);
//   - each batch of GetNextResultBatchResponse.resultBatch, one Thrift Chunk
//     in TBinaryProtocol: a column-major list of vectors ([EncodeChunk],
//     [DecodeChunk]).
//
// The Thrift structs are read and written field by field with the Apache
// Thrift Go library's binary protocol; no generated Thrift code is involved.
// Decoders never panic on malformed input: they return an error that wraps
// [ErrMalformed]. Unknown Thrift fields are skipped, so that a newer engine
// can add fields without breaking older clients.
//
// [Vector.Value] turns one cell into a Go value; see its doc for the mapping
// from vector type to Go type. All functions are safe for concurrent use;
// a [Chunk] or [Vector] may be read concurrently but not modified while read.
package resultenc

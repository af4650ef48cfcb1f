package client

import "github.com/e6coord/e6coord/client/internal/resultenc"

// RawResult decodes a query's result from the bytes the engine's generated
// stubs return, as [Rows] does, but makes no Go values of the rows: it is
// for callers that drive package e6xpb themselves and want the client's
// decoding work without its coordination (e6coord bench's bare mode
// compares the client with such a caller). Make it with [NewRawResult].
type RawResult struct {
	types []resultenc.VectorType
}

// NewRawResult decodes and checks the result metadata, the ResultMetaData
// of a GetResultMetadata response, and returns the decoder of the result's
// batches. Its error is the decoding error as is.
func NewRawResult(metadata []byte) (*RawResult, error) {
	_, cols, err := resultenc.DecodeMetadata(metadata)
	if err != nil {
		return nil, err
	}
	types := make([]resultenc.VectorType, len(cols))
	for i, col := range cols {
		types[i], _ = resultenc.ParseVectorType(col.Type) // DecodeMetadata has checked it
	}
	return &RawResult{types: types}, nil
}

// Batch decodes b, the ResultBatch of a GetNextResultBatch response, checks
// every vector against the metadata's column types, and returns its rows;
// 0 rows (or an empty b) end the result. Its error is the decoding error
// as is.
func (r *RawResult) Batch(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	chunk, err := resultenc.DecodeChunk(b)
	if err == nil {
		err = resultenc.CheckChunk(&chunk, r.types)
	}
	if err != nil {
		return 0, err
	}
	return max(chunk.Size, 0), nil
}

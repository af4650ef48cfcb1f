package client_test

import (
	"testing"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// RawResult decodes and checks what Rows does: the metadata, then each
// batch against the metadata's column types, counting the rows until the
// empty batch.
func TestRawResult(t *testing.T) {
	md, err := resultenc.EncodeMetadata(3, []resultenc.Column{{Name: "id", Type: "LONG"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.NewRawResult(md)
	if err != nil {
		t.Fatal(err)
	}
	batch := mustEncode(t, resultenc.Chunk{Size: 3, Vectors: []resultenc.Vector{resultenc.Longs([]int64{1, 2, 3}, nil)}})
	if n, err := res.Batch(batch); n != 3 || err != nil {
		t.Errorf("Batch(3 longs) = %d, %v; want 3, nil", n, err)
	}
	if n, err := res.Batch(nil); n != 0 || err != nil {
		t.Errorf("Batch(empty) = %d, %v; want 0, nil (the end)", n, err)
	}
	// A batch whose vector is not of the column's type fails the check.
	wrong := mustEncode(t, resultenc.Chunk{Size: 1, Vectors: []resultenc.Vector{resultenc.Strings([]string{"x"}, nil)}})
	if _, err := res.Batch(wrong); err == nil {
		t.Error("Batch(a STRING vector for a LONG column) succeeded")
	}
	if _, err := res.Batch([]byte("not thrift")); err == nil {
		t.Error("Batch(garbage) succeeded")
	}
	if _, err := client.NewRawResult([]byte("not metadata")); err == nil {
		t.Error("NewRawResult(garbage) succeeded")
	}
}

package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// mustEncode encodes c, which may be inconsistent but must be encodable.
func mustEncode(t *testing.T, c resultenc.Chunk) []byte {
	t.Helper()
	b, err := resultenc.EncodeChunk(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every malformation of a batch is a *ResultError from Rows.Err naming the
// query, the batch, the column and the row where one is at fault, after
// the rows of the good batch before it and before any row of the bad one.
// Nothing is substituted and nothing panics.
func TestMalformedBatches(t *testing.T) {
	cols := []resultenc.Column{{Name: "id", Type: "LONG"}, {Name: "amount", Type: "DECIMAL128"}}
	dec := func(n int) []byte { return make([]byte, n) }
	good := func(size int) resultenc.Chunk {
		ids := make([]int64, size)
		ds := make([][]byte, size)
		for i := range size {
			ids[i], ds[i] = int64(i), dec(16)
		}
		return resultenc.Chunk{Size: size, Vectors: []resultenc.Vector{
			resultenc.Longs(ids, nil),
			{Size: size, Type: resultenc.TypeDecimal128, Nulls: make([]bool, size),
				Data: resultenc.Data{Kind: resultenc.KindDecimal128Data, Bytes: ds, Scale: 2}},
		}}
	}
	// bad returns a good chunk of 3 rows changed by f.
	bad := func(f func(c *resultenc.Chunk)) []byte {
		c := good(3)
		f(&c)
		return mustEncode(t, c)
	}
	tests := []struct {
		name   string
		batch  []byte
		column int   // -1: none
		row    int64 // -1: none
		words  string
	}{
		{"not thrift", []byte("this is not a thrift chunk"), -1, -1, "malformed"},
		{"a lone stop byte", []byte{0}, -1, -1, "without its size"},
		{"truncated", mustEncode(t, good(3))[:40], 0, -1, "need"},
		{"bytes after the chunk", append(mustEncode(t, good(3)), 0, 0), -1, -1, "after the chunk"},
		{"bytes after the end marker", append(mustEncode(t, resultenc.Chunk{}), 1), -1, -1, "after the chunk"},
		{"fewer columns", bad(func(c *resultenc.Chunk) { c.Vectors = c.Vectors[:1] }), -1, -1, "1 columns, the metadata 2"},
		{"more columns", bad(func(c *resultenc.Chunk) { c.Vectors = append(c.Vectors, c.Vectors[0]) }), -1, -1, "3 columns, the metadata 2"},
		{"vector shorter than the chunk", bad(func(c *resultenc.Chunk) { c.Vectors[0].Size = 2 }), 0, -1, "2 rows in a batch of 3"},
		{"values missing", bad(func(c *resultenc.Chunk) {
			c.Vectors[0].Data.Int64s = c.Vectors[0].Data.Int64s[:1]
		}), 0, 2 + 1, "missing"},
		{"null flags missing", bad(func(c *resultenc.Chunk) { c.Vectors[0].Nulls = []bool{false, true} }), 0, 2 + 2, "null flags"},
		{"short decimal", bad(func(c *resultenc.Chunk) { c.Vectors[1].Data.Bytes[2] = dec(15) }), 1, 2 + 2, "decimal of 15 bytes"},
		{"long decimal", bad(func(c *resultenc.Chunk) { c.Vectors[1].Data.Bytes[0] = dec(17) }), 1, 2 + 0, "decimal of 17 bytes"},
		{"unknown type", bad(func(c *resultenc.Chunk) { c.Vectors[0].Type = 99 }), 0, -1, "unknown vector type 99"},
		{"int96", bad(func(c *resultenc.Chunk) { c.Vectors[0].Type = resultenc.TypeInt96 }), 0, -1, "INT96"},
		{"type of another column", bad(func(c *resultenc.Chunk) { c.Vectors[0].Type = resultenc.TypeString }), 0, -1, "STRING vector in a LONG column"},
		{"data of another type", bad(func(c *resultenc.Chunk) {
			c.Vectors[0].Data = resultenc.Data{Kind: resultenc.KindFloat64Data, Float64s: []float64{1, 2, 3}}
		}), 0, -1, "LONG vector with Float64Data"},
		{"unknown data member", bad(func(c *resultenc.Chunk) { c.Vectors[0].Data = resultenc.Data{} }), 0, -1, "without data"},
		{"constant with plain data", bad(func(c *resultenc.Chunk) { c.Vectors[0].Constant = true }), 0, -1, "isConstantVector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newEngine(t, enginetest.Options{})
			const sql = "SELECT * FROM bad"
			if err := srv.SetResult(sql, enginetest.Result{
				Columns: cols, Chunks: []resultenc.Chunk{good(2)}, Batches: [][]byte{tt.batch, mustEncode(t, good(5))},
			}); err != nil {
				t.Fatal(err)
			}
			conn := open(t, srv)
			ctx := ctxT(t)
			rows, err := conn.Query(ctx, sql)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			defer rows.Close()
			n := 0
			for rows.Next(ctx) {
				if _, err := rows.Values(); err != nil {
					t.Fatalf("Values: %v", err)
				}
				n++
			}
			if n != 2 {
				t.Errorf("read %d rows, want the 2 of the good batch", n)
			}
			err = rows.Err()
			var re *client.ResultError
			if !errors.As(err, &re) || !errors.Is(err, client.ErrMalformedResult) {
				t.Fatalf("Err = %v, want a *ResultError", err)
			}
			if re.QueryID != rows.QueryID() || re.Batch != 1 || re.Column != tt.column || re.Row != tt.row {
				t.Errorf("error at query %q batch %d column %d row %d, want %q, 1, %d, %d: %v",
					re.QueryID, re.Batch, re.Column, re.Row, rows.QueryID(), tt.column, tt.row, err)
			}
			msg := err.Error()
			for _, w := range []string{rows.QueryID(), tt.words} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if tt.column >= 0 && !strings.Contains(msg, fmt.Sprintf("column %d %q", tt.column, cols[tt.column].Name)) {
				t.Errorf("error %q does not name column %d %q", msg, tt.column, cols[tt.column].Name)
			}
			if tt.row >= 0 && !strings.Contains(msg, fmt.Sprintf("row %d", tt.row)) {
				t.Errorf("error %q does not name row %d", msg, tt.row)
			}
			if rows.Next(ctx) {
				t.Error("Next after the error returned true")
			}
		})
	}
}

// Malformed result metadata fails the query with a *ResultError; so does
// a column count that disagrees with the columns encoded, which would
// otherwise read as fewer columns or none.
func TestMalformedMetadata(t *testing.T) {
	valid, err := resultenc.EncodeMetadata(3, []resultenc.Column{{Name: "a", Type: "LONG"}, {Name: "b", Type: "STRING"}})
	if err != nil {
		t.Fatal(err)
	}
	withCount := func(n byte) []byte {
		b := append([]byte(nil), valid...)
		b[11] = n
		return b
	}
	unknown, err := resultenc.EncodeMetadata(3, []resultenc.Column{{Name: "a", Type: "LONG"}, {Name: "b", Type: "UUID"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		meta   []byte
		column int
		words  string
	}{
		{"count too small", withCount(1), -1, "after the 1 columns"},
		{"count zero", withCount(0), -1, "after the 0 columns"},
		{"count too large", withCount(3), 2, "truncated"},
		{"truncated", valid[:len(valid)-1], 1, "truncated"},
		{"rows but no columns", []byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0}, -1, "3 rows but no columns"},
		{"short", valid[:5], -1, "want at least 12"},
		{"unknown type", unknown, 1, `unknown type "UUID"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newEngine(t, enginetest.Options{})
			const sql = "SELECT * FROM bad"
			if err := srv.SetResult(sql, enginetest.Result{
				Metadata: tt.meta,
				Chunks:   []resultenc.Chunk{{Size: 1, Vectors: []resultenc.Vector{resultenc.Longs([]int64{1}, nil), resultenc.Strings([]string{"x"}, nil)}}},
			}); err != nil {
				t.Fatal(err)
			}
			conn := open(t, srv)
			rows, err := conn.Query(ctxT(t), sql)
			if err == nil {
				rows.Close()
				t.Fatal("Query succeeded, want an error")
			}
			var re *client.ResultError
			if !errors.As(err, &re) || !errors.Is(err, client.ErrMalformedResult) {
				t.Fatalf("Query error = %v, want a *ResultError", err)
			}
			if re.Batch != -1 || re.Column != tt.column || re.Row != -1 || re.QueryID == "" {
				t.Errorf("error at query %q batch %d column %d row %d, want metadata, column %d: %v", re.QueryID, re.Batch, re.Column, re.Row, tt.column, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.words) || !strings.Contains(msg, re.QueryID) || !strings.Contains(msg, "result metadata") {
				t.Errorf("error %q does not mention %q and the query", msg, tt.words)
			}
			if c := srv.Counts(); c.Prepared != 1 {
				t.Errorf("prepared %d times, want 1: a malformed result is not replayed", c.Prepared)
			}
		})
	}
}

// A TIMESTAMP_TZ value in a zone the client cannot resolve is an error at
// its row, not a time in another zone.
func TestUnknownZone(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	const sql = "SELECT * FROM zones"
	if err := srv.SetResult(sql, enginetest.Result{
		Columns: []resultenc.Column{{Name: "at", Type: "TIMESTAMP_TZ"}},
		Chunks: []resultenc.Chunk{{Size: 3, Vectors: []resultenc.Vector{
			resultenc.Times(resultenc.TypeTimestampTZ, []time.Time{t0, t0, t0}, []string{"+01:00", "Mars/Olympus_Mons", "Z"}, nil),
		}}},
	}); err != nil {
		t.Fatal(err)
	}
	conn := open(t, srv)
	ctx := ctxT(t)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next(ctx) {
		t.Fatal("Next returned a row of a batch with an unknown zone")
	}
	var re *client.ResultError
	if err := rows.Err(); !errors.As(err, &re) || re.Column != 0 || re.ColumnName != "at" || re.Row != 1 ||
		!strings.Contains(err.Error(), "Mars/Olympus_Mons") {
		t.Errorf("Err = %v, want a *ResultError at column 0 \"at\", row 1, naming the zone", err)
	}
}

package enginetest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/e6coord/e6coord/client/internal/resultenc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The built-in catalog: catalog "default", schema "demo".
const (
	// Catalog is the catalog of the built-in tables.
	Catalog = "default"
	// Schema is the schema of the built-in tables.
	Schema = "demo"
	// NumbersRows is the number of rows of demo.numbers.
	NumbersRows = 1000
	// TypesRows is the number of rows of demo.types.
	TypesRows = 8
	// BigRows is the number of rows of demo.big without LIMIT.
	BigRows = 1_000_000
)

// NumbersRow returns row i (0 ≤ i < [NumbersRows]) of demo.numbers: id is
// i, name is "n" and i in four digits ("n0042"), ratio is i/4 (exact in
// binary) and even is whether i is even.
func NumbersRow(i int) (id int64, name string, ratio float64, even bool) {
	return int64(i), fmt.Sprintf("n%04d", i), float64(i) / 4, i%2 == 0
}

// Result is the answer of the fake engine to a query, for
// [Server.SetResult].
type Result struct {
	// Columns describe the result; the result metadata carries them.
	Columns []resultenc.Column
	// Chunks are the batches getNextResultBatch returns, in order; after
	// them it returns an empty batch. The metadata's row count is the sum
	// of their sizes.
	Chunks []resultenc.Chunk
	// Err, if not nil, is returned by prepare instead (use status.Error
	// to choose the code).
	Err error

	// Metadata, if not nil, is sent as the result metadata instead of the
	// encoding of Columns and the row count: bytes as they are, malformed
	// ones included, for testing clients.
	Metadata []byte
	// Batches, if not nil, are sent after the batches of Chunks, as they
	// are: malformed batches, say. An empty batch among them ends the
	// result as the engine's empty batch does.
	Batches [][]byte
}

// encodedResult is a Result in its wire encodings: batches, or gen for a
// result generated batch by batch.
type encodedResult struct {
	meta    []byte
	batches [][]byte
	gen     func(i int) ([]byte, error) // batch i of n; nil: batches
	n       int
	rows    int64
	err     error
}

// count returns the number of batches.
func (e *encodedResult) count() int {
	if e.gen != nil {
		return e.n
	}
	return len(e.batches)
}

// batch returns batch i, or nil (the empty batch, the end) past the last.
func (e *encodedResult) batch(i int) ([]byte, error) {
	switch {
	case i >= e.count():
		return nil, nil
	case e.gen != nil:
		return e.gen(i)
	}
	return e.batches[i], nil
}

func encodeResult(r Result) (*encodedResult, error) {
	e := &encodedResult{err: r.Err}
	for i, c := range r.Chunks {
		b, err := resultenc.EncodeChunk(c)
		if err != nil {
			return nil, fmt.Errorf("enginetest: chunk %d: %w", i, err)
		}
		e.batches = append(e.batches, b)
		e.rows += int64(max(c.Size, 0))
	}
	e.batches = append(e.batches, r.Batches...)
	if r.Metadata != nil {
		e.meta = r.Metadata
		return e, nil
	}
	meta, err := resultenc.EncodeMetadata(e.rows, r.Columns)
	if err != nil {
		return nil, fmt.Errorf("enginetest: %w", err)
	}
	e.meta = meta
	return e, nil
}

// bigResult is the first rows rows of demo.big, generated and encoded one
// batch at a time as the client fetches it.
func bigResult(rows int64, batch int) (*encodedResult, error) {
	meta, err := resultenc.EncodeMetadata(rows, bigColumns)
	if err != nil {
		return nil, fmt.Errorf("enginetest: %w", err)
	}
	n := (rows + int64(batch) - 1) / int64(batch)
	return &encodedResult{meta: meta, rows: rows, n: int(n), gen: func(i int) ([]byte, error) {
		lo := int64(i) * int64(batch)
		return resultenc.EncodeChunk(bigChunk(lo, int(min(int64(batch), rows-lo))))
	}}, nil
}

// SetResult makes the fake engine answer sql with r, replacing any result
// it had, built-in ones included. SQL is matched ignoring case, runs of
// white space and a trailing semicolon.
func (s *Server) SetResult(sql string, r Result) error {
	e, err := encodeResult(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[normalise(sql)] = e
	return nil
}

// normalise lower-cases sql, collapses white space and drops trailing
// semicolons.
func normalise(sql string) string {
	return strings.Join(strings.Fields(strings.ToLower(strings.TrimRight(strings.TrimSpace(sql), "; \t\n"))), " ")
}

var tableQuery = regexp.MustCompile(`^select \* from (?:(?:default\.)?demo\.)?(numbers|one|types|big)(?: limit (\d+))?$`)

// maxBigRows bounds the LIMIT of demo.big.
const maxBigRows = 1 << 40

// lookup returns the result of sql, or an InvalidArgument error. s.mu must
// be held.
func (s *Server) lookup(sql string) (*encodedResult, error) {
	q := normalise(sql)
	if r, ok := s.results[q]; ok {
		return r, nil
	}
	if q == "select 1" {
		return encodeResult(oneResult("1"))
	}
	m := tableQuery.FindStringSubmatch(q)
	if m == nil {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported query: %q", sql)
	}
	switch {
	case m[1] == "one":
		return encodeResult(oneResult("one"))
	case m[1] == "types":
		return s.types, nil
	case m[1] == "big":
		rows := int64(BigRows)
		if m[2] != "" {
			n, err := strconv.ParseInt(m[2], 10, 64)
			if err != nil || n > maxBigRows {
				return nil, status.Errorf(codes.InvalidArgument, "demo.big: limit %s is above %d", m[2], int64(maxBigRows))
			}
			rows = n
		}
		return bigResult(rows, s.opts.BigBatchSize)
	case m[2] == "":
		return s.numbers, nil
	}
	limit, err := strconv.Atoi(m[2])
	if err != nil || limit >= NumbersRows {
		return s.numbers, nil
	}
	return encodeResult(numbersResult(limit, s.opts.BatchSize))
}

// oneResult is one LONG column holding 1.
func oneResult(name string) Result {
	return Result{
		Columns: []resultenc.Column{{Name: name, Type: "LONG"}},
		Chunks:  []resultenc.Chunk{{Size: 1, Vectors: []resultenc.Vector{resultenc.Longs([]int64{1}, nil)}}},
	}
}

var numbersColumns = []resultenc.Column{
	{Name: "id", Type: "LONG"},
	{Name: "name", Type: "STRING"},
	{Name: "ratio", Type: "DOUBLE"},
	{Name: "even", Type: "BOOLEAN"},
}

// numbersResult is the first n rows of demo.numbers.
func numbersResult(n, batch int) Result {
	r := Result{Columns: numbersColumns}
	for lo := 0; lo < n; lo += batch {
		size := min(batch, n-lo)
		ids, names, ratios, evens := make([]int64, size), make([]string, size), make([]float64, size), make([]bool, size)
		for j := range size {
			ids[j], names[j], ratios[j], evens[j] = NumbersRow(lo + j)
		}
		r.Chunks = append(r.Chunks, resultenc.Chunk{Size: size, Vectors: []resultenc.Vector{
			resultenc.Longs(ids, nil),
			resultenc.Strings(names, nil),
			resultenc.Doubles(ratios, nil),
			resultenc.Bools(evens, nil),
		}})
	}
	return r
}

// tables is the built-in catalog: table name → columns.
var tables = map[string][]resultenc.Column{
	"numbers": numbersColumns,
	"one":     {{Name: "one", Type: "LONG"}},
	"types":   typesColumns,
	"big":     bigColumns,
}

package enginetest

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/e6coord/e6coord/internal/resultenc"
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
	TypesRows = 10
)

// NumbersRow returns row i (0 ≤ i < [NumbersRows]) of demo.numbers: id is
// i, name is "n" and i in four digits ("n0042"), ratio is i/4 (exact in
// binary) and even is whether i is even.
func NumbersRow(i int) (id int64, name string, ratio float64, even bool) {
	return int64(i), fmt.Sprintf("n%04d", i), float64(i) / 4, i%2 == 0
}

var (
	typesDay0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// typesColumns are the columns of demo.types.
	typesColumns = []resultenc.Column{
		{Name: "i", Type: "INTEGER"},
		{Name: "f", Type: "FLOAT"},
		{Name: "d", Type: "DATE"},
		{Name: "ts", Type: "TIMESTAMP"},
		{Name: "s", Type: "STRING"},
		{Name: "c", Type: "LONG"},
		{Name: "n", Type: "NULL"},
		{Name: "dec", Type: "DECIMAL128"},
	}
)

// TypesRow returns row i (0 ≤ i < [TypesRows]) of demo.types, as
// resultenc's Vector.Value decodes it, column by column:
//
//	i    INTEGER     int32(i), NULL when i%3 == 2
//	f    FLOAT       float32(i)/2
//	d    DATE        2024-01-01 UTC plus i days
//	ts   TIMESTAMP   2024-01-01 UTC plus i×90 minutes and i milliseconds
//	s    STRING      "s" and i, NULL when i is odd
//	c    LONG        int64(42), a constant vector
//	n    NULL        nil, a constant vector
//	dec  DECIMAL128  resultenc.Decimal{Unscaled: 100i+5, Scale: 2}
func TypesRow(i int) []any {
	row := []any{
		int32(i),
		float32(i) / 2,
		typesDay0.AddDate(0, 0, i),
		typesDay0.Add(time.Duration(i)*90*time.Minute + time.Duration(i)*time.Millisecond),
		"s" + strconv.Itoa(i),
		int64(42),
		nil,
		resultenc.Decimal{Unscaled: big.NewInt(int64(100*i + 5)), Scale: 2},
	}
	if i%3 == 2 {
		row[0] = nil
	}
	if i%2 == 1 {
		row[4] = nil
	}
	return row
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
}

// encodedResult is a Result in its wire encodings.
type encodedResult struct {
	meta    []byte
	batches [][]byte
	rows    int64
	err     error
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
	meta, err := resultenc.EncodeMetadata(e.rows, r.Columns)
	if err != nil {
		return nil, fmt.Errorf("enginetest: %w", err)
	}
	e.meta = meta
	return e, nil
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

var tableQuery = regexp.MustCompile(`^select \* from (?:(?:default\.)?demo\.)?(numbers|one|types)(?: limit (\d+))?$`)

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

// typesResult is demo.types.
func typesResult(batch int) Result {
	r := Result{Columns: typesColumns}
	for lo := 0; lo < TypesRows; lo += batch {
		size := min(batch, TypesRows-lo)
		var (
			is           = make([]int32, size)
			fs           = make([]float32, size)
			ds, ts       = make([]time.Time, size), make([]time.Time, size)
			ss           = make([]string, size)
			decs         = make([]*big.Int, size)
			iNull, sNull = make([]bool, size), make([]bool, size)
			scale        int32
		)
		for j := range size {
			row := TypesRow(lo + j)
			if row[0] == nil {
				iNull[j] = true
			} else {
				is[j] = row[0].(int32)
			}
			fs[j] = row[1].(float32)
			ds[j] = row[2].(time.Time)
			ts[j] = row[3].(time.Time)
			if row[4] == nil {
				sNull[j] = true
			} else {
				ss[j] = row[4].(string)
			}
			dec := row[7].(resultenc.Decimal)
			decs[j], scale = dec.Unscaled, dec.Scale
		}
		c, err := resultenc.Constant(resultenc.TypeLong, size, int64(42))
		if err != nil {
			panic(err) // a bug: the value matches the type
		}
		n, _ := resultenc.Constant(resultenc.TypeNull, size, nil)
		dec, err := resultenc.Decimals(decs, scale, nil)
		if err != nil {
			panic(err) // a bug: the values are small
		}
		r.Chunks = append(r.Chunks, resultenc.Chunk{Size: size, Vectors: []resultenc.Vector{
			resultenc.Integers(is, iNull),
			resultenc.Floats(fs, nil),
			resultenc.Dates(ds, nil),
			resultenc.Times(resultenc.TypeTimestamp, ts, nil, nil),
			resultenc.Strings(ss, sNull),
			c,
			n,
			dec,
		}})
	}
	return r
}

// tables is the built-in catalog: table name → columns.
var tables = map[string][]resultenc.Column{
	"numbers": numbersColumns,
	"one":     {{Name: "one", Type: "LONG"}},
	"types":   typesColumns,
}

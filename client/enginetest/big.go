package enginetest

import (
	"strconv"
	"time"

	"github.com/e6coord/e6coord/client/internal/resultenc"
)

// bigColumns are the columns of demo.big.
var bigColumns = []resultenc.Column{
	{Name: "id", Type: "LONG"},
	{Name: "i", Type: "INTEGER"},
	{Name: "d", Type: "DOUBLE"},
	{Name: "b", Type: "BOOLEAN"},
	{Name: "s", Type: "STRING"},
	{Name: "ts", Type: "TIMESTAMP"},
	{Name: "dec", Type: "DECIMAL128"},
	{Name: "k", Type: "STRING"},
}

// BigColumns returns the columns of demo.big, with the names and types the
// client's Rows.Columns gives.
func BigColumns() []Column { return columns(bigColumns) }

var bigEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// BigRow returns row i of demo.big as the client's Rows.Values returns it,
// but for the DECIMAL128 value, a [Decimal], one value per column of
// [BigColumns]:
//
//	id   LONG        i
//	i    INTEGER     i mod 1000 − 500, NULL when i mod 7 = 3
//	d    DOUBLE      i / 8
//	b    BOOLEAN     whether i is even
//	s    STRING      "row-" and i, NULL when i mod 11 = 5
//	ts   TIMESTAMP   2024-01-01 UTC plus i seconds and i mod 10^6 µs
//	dec  DECIMAL128  i × 100 + i mod 100 at scale 2, NULL when i mod 13 = 7
//	k    STRING      "constant", a constant vector
func BigRow(i int64) []any {
	row := []any{
		i,
		int32(i%1000 - 500),
		float64(i) / 8,
		i%2 == 0,
		"row-" + strconv.FormatInt(i, 10),
		time.UnixMicro(bigEpoch + i*1_000_000 + i%1_000_000).UTC(),
		nil,
		"constant",
	}
	if i%7 == 3 {
		row[1] = nil
	}
	if i%11 == 5 {
		row[4] = nil
	}
	if i%13 != 7 {
		row[6] = Decimal{Unscaled: strconv.FormatInt(i*100+i%100, 10), Scale: 2}
	}
	return row
}

// bigChunk returns rows [lo, lo+n) of demo.big, built column by column as
// BigRow describes them, without going through BigRow's values.
func bigChunk(lo int64, n int) resultenc.Chunk {
	var (
		ids   = make([]int64, n)
		is    = make([]int32, n)
		iNull = make([]bool, n)
		ds    = make([]float64, n)
		bs    = make([]bool, n)
		ss    = make([]string, n)
		sNull = make([]bool, n)
		ts    = make([]int64, n)
		decs  = make([][]byte, n)
		dNull = make([]bool, n)
		raw   = make([]byte, 16*n)
	)
	for j := range n {
		i := lo + int64(j)
		ids[j] = i
		is[j], iNull[j] = int32(i%1000-500), i%7 == 3
		ds[j] = float64(i) / 8
		bs[j] = i%2 == 0
		if sNull[j] = i%11 == 5; !sNull[j] {
			ss[j] = "row-" + strconv.FormatInt(i, 10)
		}
		ts[j] = bigEpoch + i*1_000_000 + i%1_000_000
		// i×100 + i mod 100 is positive and below 2^63 for any row count
		// that fits in memory: the high 8 bytes are zero.
		b := raw[16*j : 16*j+16 : 16*j+16]
		u := uint64(i*100 + i%100)
		for k := range 8 {
			b[15-k] = byte(u >> (8 * k))
		}
		decs[j], dNull[j] = b, i%13 == 7
	}
	k, _ := resultenc.Constant(resultenc.TypeString, n, "constant")
	return resultenc.Chunk{Size: n, Vectors: []resultenc.Vector{
		resultenc.Longs(ids, nil),
		resultenc.Integers(is, iNull),
		resultenc.Doubles(ds, nil),
		resultenc.Bools(bs, nil),
		resultenc.Strings(ss, sNull),
		{Size: n, Type: resultenc.TypeTimestamp, Nulls: make([]bool, n), Data: resultenc.Data{Kind: resultenc.KindTimeData, Int64s: ts}},
		{Size: n, Type: resultenc.TypeDecimal128, Nulls: dNull, Data: resultenc.Data{Kind: resultenc.KindDecimal128Data, Bytes: decs, Scale: 2}},
		k,
	}}
}

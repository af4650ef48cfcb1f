package resultenc

import (
	"bytes"
	"context"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/client/internal/resultenc/thriftgen"
)

// benchChunk is a realistic batch: rows rows of LONG, INTEGER, DOUBLE,
// BOOLEAN, STRING (about 12 bytes), TIMESTAMP, DECIMAL128 and a constant
// STRING, with NULLs in some columns.
func benchChunk(t testing.TB, rows int) Chunk {
	ls, is, ds, bs := make([]int64, rows), make([]int32, rows), make([]float64, rows), make([]bool, rows)
	ss, ts, us := make([]string, rows), make([]time.Time, rows), make([]*big.Int, rows)
	nulls := make([]bool, rows)
	for i := range rows {
		ls[i], is[i], ds[i], bs[i] = int64(i)*7919, int32(i%1000), float64(i)/3, i%2 == 0
		ss[i] = "customer-" + strconv.Itoa(i)
		ts[i] = t0.Add(time.Duration(i) * time.Second)
		us[i] = big.NewInt(int64(i) * 1234567)
		nulls[i] = i%9 == 4
	}
	dec, err := Decimals(us, 2, nulls)
	if err != nil {
		t.Fatal(err)
	}
	return Chunk{Size: rows, Vectors: []Vector{
		Longs(ls, nil), Integers(is, nulls), Doubles(ds, nil), Bools(bs, nil),
		Strings(ss, nulls), Times(TypeTimestamp, ts, nil, nil), dec,
		mustConstant(t, TypeString, rows, "constant"),
	}}
}

// decodeGenerated decodes b with the code thrift generates from
// result.thrift.
func decodeGenerated(b []byte) (*thriftgen.Chunk, error) {
	p := thrift.NewTBinaryProtocolConf(&thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(b)}, conf)
	c := thriftgen.NewChunk()
	return c, c.Read(context.Background(), p)
}

// BenchmarkDecodeChunk decodes one batch of 4096 mixed rows with the
// production decoder (direct: DecodeChunk, reading the bytes), the
// decoder it replaced (tprotocol: hand-written over the Thrift library's
// TBinaryProtocol) and the code the thrift compiler generates from
// result.thrift (generated).
func BenchmarkDecodeChunk(b *testing.B) {
	enc, err := EncodeChunk(benchChunk(b, 4096))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		decode func([]byte) error
	}{
		{"direct", func(b []byte) error { _, err := DecodeChunk(b); return err }},
		{"tprotocol", func(b []byte) error { _, err := decodeChunkTProtocol(b); return err }},
		{"generated", func(b []byte) error { _, err := decodeGenerated(b); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fromGenerated converts the generated code's Chunk to this package's.
func fromGenerated(g *thriftgen.Chunk) Chunk {
	c := Chunk{Size: int(g.Size)}
	for _, gv := range g.Vectors {
		v := Vector{Size: int(gv.Size), Type: VectorType(gv.VectorType), Nulls: gv.NullSet,
			Constant: gv.IsConstantVector, Zone: gv.ZoneOffset, Format: gv.Format}
		if gd := gv.Data; gd != nil {
			d := &v.Data
			switch {
			case gd.BoolData != nil:
				d.Kind, d.Bools = KindBoolData, gd.BoolData.Data
			case gd.Int32Data != nil:
				d.Kind, d.Int32s = KindInt32Data, gd.Int32Data.Data
			case gd.Int64Data != nil:
				d.Kind, d.Int64s = KindInt64Data, gd.Int64Data.Data
			case gd.DateData != nil:
				d.Kind, d.Int64s = KindDateData, gd.DateData.Data
			case gd.Float32Data != nil:
				d.Kind, d.Float64s = KindFloat32Data, gd.Float32Data.Data
			case gd.Float64Data != nil:
				d.Kind, d.Float64s = KindFloat64Data, gd.Float64Data.Data
			case gd.VarcharData != nil:
				d.Kind, d.Strings = KindVarcharData, gd.VarcharData.Data
			case gd.BoolConstantData != nil:
				d.Kind, d.Bools = KindBoolConstantData, []bool{gd.BoolConstantData.Data}
			case gd.DateConstantData != nil:
				d.Kind, d.Int64s = KindDateConstantData, []int64{gd.DateConstantData.Data}
			case gd.NullConstantData != nil:
				d.Kind, d.Int8s = KindNullConstantData, []int8{gd.NullConstantData.Data}
			case gd.NumericConstantData != nil:
				d.Kind, d.Int64s = KindNumericConstantData, []int64{gd.NumericConstantData.Data}
			case gd.NumericDecimalConstantData != nil:
				d.Kind, d.Float64s = KindNumericDecimalConstantData, []float64{gd.NumericDecimalConstantData.Data}
			case gd.TemporalIntervalConstantData != nil:
				d.Kind, d.Int8s = KindTemporalIntervalConstantData, []int8{gd.TemporalIntervalConstantData.Data}
			case gd.TimeConstantData != nil:
				d.Kind, d.Int64s = KindTimeConstantData, []int64{gd.TimeConstantData.Data}
				if z := gd.TimeConstantData.ZoneData; z != nil {
					d.Zones = []string{*z}
				}
			case gd.VarcharConstantData != nil:
				d.Kind, d.Strings = KindVarcharConstantData, []string{gd.VarcharConstantData.Data}
			case gd.TimeData != nil:
				d.Kind, d.Int64s, d.Zones = KindTimeData, gd.TimeData.Data, gd.TimeData.ZoneData
			case gd.Decimal128Data != nil:
				d.Kind, d.Bytes, d.Scale = KindDecimal128Data, gd.Decimal128Data.Data, gd.Decimal128Data.Scale
			case gd.NumericDecimal128ConstantData != nil:
				d.Kind, d.Bytes, d.Scale = KindNumericDecimal128ConstantData, [][]byte{gd.NumericDecimal128ConstantData.Data}, gd.NumericDecimal128ConstantData.Scale
			}
		}
		c.Vectors = append(c.Vectors, v)
	}
	return c
}

// The generated code and DecodeChunk read the same chunks from the same
// bytes.
func TestDecodeChunkAgreesWithGenerated(t *testing.T) {
	chunks := sampleChunks(t)
	chunks["bench"] = benchChunk(t, 100)
	for name, c := range chunks {
		b, err := EncodeChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		g, err := decodeGenerated(b)
		if err != nil {
			t.Fatalf("%s: generated: %v", name, err)
		}
		got, err := DecodeChunk(b)
		if err != nil {
			t.Fatalf("%s: DecodeChunk: %v", name, err)
		}
		if diff := cmp.Diff(fromGenerated(g), got, chunkOpts); diff != "" {
			t.Errorf("%s: DecodeChunk differs from the generated code (-generated +DecodeChunk):\n%s", name, diff)
		}
	}
}

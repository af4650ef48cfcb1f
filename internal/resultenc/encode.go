package resultenc

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/thrift/lib/go/thrift"
)

// conf is the protocol configuration: strict binary protocol, default
// limits.
var conf = &thrift.TConfiguration{
	TBinaryStrictRead:  thrift.BoolPtr(true),
	TBinaryStrictWrite: thrift.BoolPtr(true),
}

// EncodeChunk returns c as a Thrift Chunk in TBinaryProtocol, as the engine
// sends it in GetNextResultBatchResponse.resultBatch. Every field of the
// Thrift structs is written except the optional zone lists that are nil.
//
// It fails if a size does not fit in an int32, if a vector's Data.Kind is
// not a known member, or if a constant member does not carry exactly one
// value.
func EncodeChunk(c Chunk) ([]byte, error) {
	buf := thrift.NewTMemoryBuffer()
	w := &writer{p: thrift.NewTBinaryProtocolConf(buf, conf)}
	if err := w.chunk(c); err != nil {
		return nil, fmt.Errorf("resultenc: encode chunk: %w", err)
	}
	return buf.Bytes(), nil
}

// writer collects the first error, so that the write calls can be chained;
// writes to a memory buffer fail only on a bug.
type writer struct {
	p   *thrift.TBinaryProtocol
	err error
}

var ctx = context.Background()

func (w *writer) check(err error) {
	if w.err == nil && err != nil {
		w.err = err
	}
}

func (w *writer) field(name string, t thrift.TType, id int16) {
	w.check(w.p.WriteFieldBegin(ctx, name, t, id))
}

func (w *writer) i32Field(name string, id int16, v int32) {
	w.field(name, thrift.I32, id)
	w.check(w.p.WriteI32(ctx, v))
}

func (w *writer) stringField(name string, id int16, v string) {
	w.field(name, thrift.STRING, id)
	w.check(w.p.WriteString(ctx, v))
}

func (w *writer) stop() {
	w.check(w.p.WriteFieldStop(ctx))
}

func size32(what string, n int) (int32, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%s %d does not fit in an int32", what, n)
	}
	return int32(n), nil
}

func (w *writer) chunk(c Chunk) error {
	n, err := size32("chunk size", c.Size)
	if err != nil {
		return err
	}
	w.i32Field("size", 1, n)
	w.field("vectors", thrift.LIST, 2)
	w.check(w.p.WriteListBegin(ctx, thrift.STRUCT, len(c.Vectors)))
	for i, v := range c.Vectors {
		if err := w.vector(v); err != nil {
			return fmt.Errorf("vector %d: %w", i, err)
		}
	}
	w.stop()
	return w.err
}

func (w *writer) vector(v Vector) error {
	n, err := size32("vector size", v.Size)
	if err != nil {
		return err
	}
	w.i32Field("size", 1, n)
	w.i32Field("vectorType", 2, int32(v.Type))
	w.field("nullSet", thrift.LIST, 3)
	writeList(w, thrift.BOOL, v.Nulls, w.p.WriteBool)
	if v.Data.Kind != KindNone {
		w.field("data", thrift.STRUCT, 4)
		if err := w.data(&v.Data); err != nil {
			return err
		}
	}
	w.field("isConstantVector", thrift.BOOL, 5)
	w.check(w.p.WriteBool(ctx, v.Constant))
	w.stringField("zoneOffset", 6, v.Zone)
	w.stringField("format", 7, v.Format)
	w.stop()
	return w.err
}

func writeList[T any](w *writer, t thrift.TType, vs []T, write func(context.Context, T) error) {
	w.check(w.p.WriteListBegin(ctx, t, len(vs)))
	for _, v := range vs {
		w.check(write(ctx, v))
	}
}

func (w *writer) data(d *Data) error {
	k := d.Kind
	if k.Constant() && d.Len() != 1 {
		return fmt.Errorf("%v carries %d values, want 1", k, d.Len())
	}
	if k == KindTimeConstantData && len(d.Zones) > 1 {
		return fmt.Errorf("%v carries %d zones, want at most 1", k, len(d.Zones))
	}
	// The union: one field, a struct whose field 1 is the value.
	w.field(k.String(), thrift.STRUCT, int16(k))
	switch k {
	case KindBoolData:
		w.field("data", thrift.LIST, 1)
		writeList(w, thrift.BOOL, d.Bools, w.p.WriteBool)
	case KindInt32Data:
		w.field("data", thrift.LIST, 1)
		writeList(w, thrift.I32, d.Int32s, w.p.WriteI32)
	case KindInt64Data, KindDateData, KindTimeData:
		w.field("data", thrift.LIST, 1)
		writeList(w, thrift.I64, d.Int64s, w.p.WriteI64)
		if k == KindTimeData && d.Zones != nil {
			w.field("zoneData", thrift.LIST, 2)
			writeList(w, thrift.STRING, d.Zones, w.p.WriteString)
		}
	case KindFloat32Data, KindFloat64Data:
		w.field("data", thrift.LIST, 1)
		writeList(w, thrift.DOUBLE, d.Float64s, w.p.WriteDouble)
	case KindVarcharData:
		w.field("data", thrift.LIST, 1)
		writeList(w, thrift.STRING, d.Strings, w.p.WriteString)
	case KindDecimal128Data:
		w.field("data", thrift.LIST, 1)
		writeList(w, thrift.STRING, d.Bytes, w.p.WriteBinary)
		w.i32Field("scale", 2, d.Scale)
	case KindBoolConstantData:
		w.field("data", thrift.BOOL, 1)
		w.check(w.p.WriteBool(ctx, d.Bools[0]))
	case KindDateConstantData, KindNumericConstantData, KindTimeConstantData:
		w.field("data", thrift.I64, 1)
		w.check(w.p.WriteI64(ctx, d.Int64s[0]))
		if k == KindTimeConstantData && len(d.Zones) == 1 {
			w.stringField("zoneData", 2, d.Zones[0])
		}
	case KindNullConstantData, KindTemporalIntervalConstantData:
		w.field("data", thrift.BYTE, 1)
		w.check(w.p.WriteByte(ctx, d.Int8s[0]))
	case KindNumericDecimalConstantData:
		w.field("data", thrift.DOUBLE, 1)
		w.check(w.p.WriteDouble(ctx, d.Float64s[0]))
	case KindVarcharConstantData:
		w.stringField("data", 1, d.Strings[0])
	case KindNumericDecimal128ConstantData:
		w.field("data", thrift.STRING, 1)
		w.check(w.p.WriteBinary(ctx, d.Bytes[0]))
		w.i32Field("scale", 2, d.Scale)
	default:
		return fmt.Errorf("unknown data kind %v", k)
	}
	w.stop() // the member struct
	w.stop() // the union
	return w.err
}

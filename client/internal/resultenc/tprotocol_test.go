package resultenc

// This file is the TProtocol-based decoder that DecodeChunk replaced.

import (
	"bytes"
	"context"

	"github.com/apache/thrift/lib/go/thrift"
)

// decodeChunkTProtocol is the decoder this package had before DecodeChunk
// read the bytes directly: hand-written, field by field, over the Thrift
// library's TBinaryProtocol. It is kept for BenchmarkDecodeChunk.
func decodeChunkTProtocol(b []byte) (Chunk, error) {
	r := &tpReader{p: thrift.NewTBinaryProtocolConf(&thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(b)}, conf)}
	c, err := r.chunk()
	if err != nil {
		return Chunk{}, malformed("chunk: %v", err)
	}
	return c, nil
}

type tpReader struct {
	p *thrift.TBinaryProtocol
}

// fields calls f for each field of a struct until the stop field. f returns
// false for a field it does not read, which is then skipped.
func (r *tpReader) fields(f func(t thrift.TType, id int16) (bool, error)) error {
	for {
		_, t, id, err := r.p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			return nil
		}
		ok, err := f(t, id)
		if err != nil {
			return err
		}
		if !ok {
			if err := r.p.Skip(ctx, t); err != nil {
				return err
			}
		}
	}
}

type tpErrorString string

func (e tpErrorString) Error() string { return string(e) }

// readList reads a list whose elements have type want with read. An empty
// list may declare any element type.
func tpReadList[T any](r *tpReader, want thrift.TType, read func() (T, error)) ([]T, error) {
	t, n, err := r.p.ReadListBegin(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 && t != want {
		return nil, tpErrorString("list of " + t.String() + ", want " + want.String())
	}
	// ReadListBegin has checked that n elements of the minimum size fit in
	// the remaining bytes, but an element may be much larger in memory than
	// on the wire (a Vector, say), so the capacity grows with the input.
	vs := make([]T, 0, min(n, 1024))
	for range n {
		v, err := read()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

func (r *tpReader) bool() (bool, error)      { return r.p.ReadBool(ctx) }
func (r *tpReader) i8() (int8, error)        { return r.p.ReadByte(ctx) }
func (r *tpReader) i32() (int32, error)      { return r.p.ReadI32(ctx) }
func (r *tpReader) i64() (int64, error)      { return r.p.ReadI64(ctx) }
func (r *tpReader) double() (float64, error) { return r.p.ReadDouble(ctx) }
func (r *tpReader) string() (string, error)  { return r.p.ReadString(ctx) }
func (r *tpReader) binary() ([]byte, error)  { return r.p.ReadBinary(ctx) }
func (r *tpReader) structBegin() (err error) { _, err = r.p.ReadStructBegin(ctx); return err }

func (r *tpReader) chunk() (c Chunk, err error) {
	if err := r.structBegin(); err != nil {
		return c, err
	}
	err = r.fields(func(t thrift.TType, id int16) (bool, error) {
		switch {
		case id == 1 && t == thrift.I32:
			n, err := r.i32()
			c.Size = int(n)
			return true, err
		case id == 2 && t == thrift.LIST:
			vs, err := tpReadList(r, thrift.STRUCT, r.vector)
			c.Vectors = vs
			return true, err
		}
		return false, nil
	})
	return c, err
}

func (r *tpReader) vector() (v Vector, err error) {
	if err := r.structBegin(); err != nil {
		return v, err
	}
	err = r.fields(func(t thrift.TType, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.I32:
			var n int32
			n, err = r.i32()
			v.Size = int(n)
		case id == 2 && t == thrift.I32:
			var n int32
			n, err = r.i32()
			v.Type = VectorType(n)
		case id == 3 && t == thrift.LIST:
			v.Nulls, err = tpReadList(r, thrift.BOOL, r.bool)
		case id == 4 && t == thrift.STRUCT:
			v.Data, err = r.data()
		case id == 5 && t == thrift.BOOL:
			v.Constant, err = r.bool()
		case id == 6 && t == thrift.STRING:
			v.Zone, err = r.string()
		case id == 7 && t == thrift.STRING:
			v.Format, err = r.string()
		default:
			return false, nil
		}
		return true, err
	})
	return v, err
}

// data reads the union Data. More than one known member is an error.
func (r *tpReader) data() (d Data, err error) {
	if err := r.structBegin(); err != nil {
		return d, err
	}
	err = r.fields(func(t thrift.TType, id int16) (bool, error) {
		k := DataKind(id)
		if t != thrift.STRUCT || k <= KindNone || k > KindNumericDecimal128ConstantData {
			return false, nil
		}
		if d.Kind != KindNone {
			return false, tpErrorString("data union has two members, " + d.Kind.String() + " and " + k.String())
		}
		d.Kind = k
		return true, r.member(&d)
	})
	return d, err
}

// member reads the struct of the union member d.Kind into d.
func (r *tpReader) member(d *Data) error {
	if err := r.structBegin(); err != nil {
		return err
	}
	k := d.Kind
	return r.fields(func(t thrift.TType, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.LIST:
			switch k {
			case KindBoolData:
				d.Bools, err = tpReadList(r, thrift.BOOL, r.bool)
			case KindInt32Data:
				d.Int32s, err = tpReadList(r, thrift.I32, r.i32)
			case KindInt64Data, KindDateData, KindTimeData:
				d.Int64s, err = tpReadList(r, thrift.I64, r.i64)
			case KindFloat32Data, KindFloat64Data:
				d.Float64s, err = tpReadList(r, thrift.DOUBLE, r.double)
			case KindVarcharData:
				d.Strings, err = tpReadList(r, thrift.STRING, r.string)
			case KindDecimal128Data:
				d.Bytes, err = tpReadList(r, thrift.STRING, r.binary)
			default:
				return false, nil
			}
		case id == 2 && t == thrift.LIST && k == KindTimeData:
			d.Zones, err = tpReadList(r, thrift.STRING, r.string)
		case id == 2 && t == thrift.I32 && (k == KindDecimal128Data || k == KindNumericDecimal128ConstantData):
			d.Scale, err = r.i32()
		case id == 2 && t == thrift.STRING && k == KindTimeConstantData:
			var z string
			z, err = r.string()
			d.Zones = []string{z}
		case id == 1 && t == thrift.BOOL && k == KindBoolConstantData:
			var b bool
			b, err = r.bool()
			d.Bools = []bool{b}
		case id == 1 && t == thrift.I64 && (k == KindDateConstantData || k == KindNumericConstantData || k == KindTimeConstantData):
			var n int64
			n, err = r.i64()
			d.Int64s = []int64{n}
		case id == 1 && t == thrift.BYTE && (k == KindNullConstantData || k == KindTemporalIntervalConstantData):
			var n int8
			n, err = r.i8()
			d.Int8s = []int8{n}
		case id == 1 && t == thrift.DOUBLE && k == KindNumericDecimalConstantData:
			var f float64
			f, err = r.double()
			d.Float64s = []float64{f}
		case id == 1 && t == thrift.STRING && k == KindVarcharConstantData:
			var s string
			s, err = r.string()
			d.Strings = []string{s}
		case id == 1 && t == thrift.STRING && k == KindNumericDecimal128ConstantData:
			var b []byte
			b, err = r.binary()
			d.Bytes = [][]byte{b}
		default:
			return false, nil
		}
		return true, err
	})
}

// conf is the protocol configuration of the Thrift library's decoders in
// these tests: strict binary protocol, default limits.
var conf = &thrift.TConfiguration{
	TBinaryStrictRead:  thrift.BoolPtr(true),
	TBinaryStrictWrite: thrift.BoolPtr(true),
}

var ctx = context.Background()

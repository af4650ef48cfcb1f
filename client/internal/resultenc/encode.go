package resultenc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// EncodeChunk returns c as a Thrift Chunk in TBinaryProtocol, as the engine
// sends it in GetNextResultBatchResponse.resultBatch, appending the bytes
// directly, without the Thrift library. Every field of the Thrift structs
// is written, in field-id order, except the optional zone lists that are
// nil and the data of a vector whose Data.Kind is KindNone.
//
// It fails if a size does not fit in an int32, if a vector's Data.Kind is
// not a known member, or if a constant member does not carry exactly one
// value.
func EncodeChunk(c Chunk) ([]byte, error) {
	n, err := size32("chunk size", c.Size)
	if err != nil {
		return nil, fmt.Errorf("resultenc: encode chunk: %w", err)
	}
	size := 16
	for i := range c.Vectors {
		size += encodedSize(&c.Vectors[i])
	}
	b := make([]byte, 0, size)
	b = appendField(b, tI32, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = appendField(b, tList, 2)
	b = appendList(b, tStruct, len(c.Vectors))
	for i := range c.Vectors {
		if b, err = appendVector(b, &c.Vectors[i]); err != nil {
			return nil, fmt.Errorf("resultenc: encode chunk: vector %d: %w", i, err)
		}
	}
	return append(b, tStop), nil
}

func size32(what string, n int) (int32, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%s %d does not fit in an int32", what, n)
	}
	return int32(n), nil
}

// encodedSize is about the size of v's encoding, for preallocation.
func encodedSize(v *Vector) int {
	d := &v.Data
	n := 64 + len(v.Zone) + len(v.Format) + len(v.Nulls) + len(d.Bools) + 4*len(d.Int32s) +
		8*(len(d.Int64s)+len(d.Float64s)) + len(d.Int8s)
	for _, s := range d.Strings {
		n += 4 + len(s)
	}
	for _, s := range d.Zones {
		n += 4 + len(s)
	}
	for _, b := range d.Bytes {
		n += 4 + len(b)
	}
	return n
}

func appendField(b []byte, t byte, id int16) []byte {
	return binary.BigEndian.AppendUint16(append(b, t), uint16(id))
}

func appendList(b []byte, elem byte, n int) []byte {
	return binary.BigEndian.AppendUint32(append(b, elem), uint32(n))
}

func appendString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}

func appendBytes(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendVector(b []byte, v *Vector) ([]byte, error) {
	n, err := size32("vector size", v.Size)
	if err != nil {
		return nil, err
	}
	b = appendField(b, tI32, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = appendField(b, tI32, 2)
	b = binary.BigEndian.AppendUint32(b, uint32(v.Type))
	b = appendField(b, tList, 3)
	b = appendList(b, tBool, len(v.Nulls))
	for _, f := range v.Nulls {
		b = appendBool(b, f)
	}
	if v.Data.Kind != KindNone {
		b = appendField(b, tStruct, 4)
		if b, err = appendData(b, &v.Data); err != nil {
			return nil, err
		}
	}
	b = appendField(b, tBool, 5)
	b = appendBool(b, v.Constant)
	b = appendField(b, tString, 6)
	b = appendString(b, v.Zone)
	b = appendField(b, tString, 7)
	b = appendString(b, v.Format)
	return append(b, tStop), nil
}

func appendData(b []byte, d *Data) ([]byte, error) {
	k := d.Kind
	if k.Constant() && d.Len() != 1 {
		return nil, fmt.Errorf("%v carries %d values, want 1", k, d.Len())
	}
	if k == KindTimeConstantData && len(d.Zones) > 1 {
		return nil, fmt.Errorf("%v carries %d zones, want at most 1", k, len(d.Zones))
	}
	// The union: one field, a struct whose field 1 is the value.
	b = appendField(b, tStruct, int16(k))
	switch k {
	case KindBoolData:
		b = appendField(b, tList, 1)
		b = appendList(b, tBool, len(d.Bools))
		for _, v := range d.Bools {
			b = appendBool(b, v)
		}
	case KindInt32Data:
		b = appendField(b, tList, 1)
		b = appendList(b, tI32, len(d.Int32s))
		for _, v := range d.Int32s {
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		}
	case KindInt64Data, KindDateData, KindTimeData:
		b = appendField(b, tList, 1)
		b = appendList(b, tI64, len(d.Int64s))
		for _, v := range d.Int64s {
			b = binary.BigEndian.AppendUint64(b, uint64(v))
		}
		if k == KindTimeData && d.Zones != nil {
			b = appendField(b, tList, 2)
			b = appendList(b, tString, len(d.Zones))
			for _, z := range d.Zones {
				b = appendString(b, z)
			}
		}
	case KindFloat32Data, KindFloat64Data:
		b = appendField(b, tList, 1)
		b = appendList(b, tDouble, len(d.Float64s))
		for _, v := range d.Float64s {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		}
	case KindVarcharData:
		b = appendField(b, tList, 1)
		b = appendList(b, tString, len(d.Strings))
		for _, s := range d.Strings {
			b = appendString(b, s)
		}
	case KindDecimal128Data:
		b = appendField(b, tList, 1)
		b = appendList(b, tString, len(d.Bytes))
		for _, v := range d.Bytes {
			b = appendBytes(b, v)
		}
		b = appendField(b, tI32, 2)
		b = binary.BigEndian.AppendUint32(b, uint32(d.Scale))
	case KindBoolConstantData:
		b = appendField(b, tBool, 1)
		b = appendBool(b, d.Bools[0])
	case KindDateConstantData, KindNumericConstantData, KindTimeConstantData:
		b = appendField(b, tI64, 1)
		b = binary.BigEndian.AppendUint64(b, uint64(d.Int64s[0]))
		if k == KindTimeConstantData && len(d.Zones) == 1 {
			b = appendField(b, tString, 2)
			b = appendString(b, d.Zones[0])
		}
	case KindNullConstantData, KindTemporalIntervalConstantData:
		b = appendField(b, tByte, 1)
		b = append(b, byte(d.Int8s[0]))
	case KindNumericDecimalConstantData:
		b = appendField(b, tDouble, 1)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(d.Float64s[0]))
	case KindVarcharConstantData:
		b = appendField(b, tString, 1)
		b = appendString(b, d.Strings[0])
	case KindNumericDecimal128ConstantData:
		b = appendField(b, tString, 1)
		b = appendBytes(b, d.Bytes[0])
		b = appendField(b, tI32, 2)
		b = binary.BigEndian.AppendUint32(b, uint32(d.Scale))
	default:
		return nil, fmt.Errorf("unknown data kind %v", k)
	}
	return append(b, tStop, tStop), nil // the member struct, the union
}

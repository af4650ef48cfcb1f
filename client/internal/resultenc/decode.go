package resultenc

import (
	"encoding/binary"
	"math"
)

// Thrift TBinaryProtocol type ids.
const (
	tStop   = 0
	tBool   = 2
	tByte   = 3
	tDouble = 4
	tI16    = 6
	tI32    = 8
	tI64    = 10
	tString = 11
	tStruct = 12
	tMap    = 13
	tSet    = 14
	tList   = 15
	tUUID   = 16
)

// maxDepth bounds the nesting of skipped structs and containers, so that
// hostile input cannot exhaust the stack.
const maxDepth = 64

// DecodeChunk parses a Thrift Chunk in TBinaryProtocol, as found in
// GetNextResultBatchResponse.resultBatch. It reads the bytes directly,
// without the Thrift library.
//
// Unknown fields and unknown members of the union Data are skipped (the
// latter leave Data.Kind at KindNone), so that a newer engine can add
// fields. A Chunk must carry its size, and its vectors unless the size is
// zero or negative (the end marker); a Vector must carry its size and type.
// Bytes after the chunk are an error, as are lists longer than the input,
// bools other than 0 and 1, and a union with two members. The error wraps
// [ErrMalformed], and is a [*Error] naming the vector when there is one.
//
// DecodeChunk checks the structure only; [CheckChunk] checks the values
// against the result's columns. Lists are allocated no larger than the
// input can fill, so a hostile length prefix allocates nothing.
func DecodeChunk(b []byte) (Chunk, error) {
	d := decoder{b: b}
	c, err := d.chunk()
	if err == nil && d.off != len(b) {
		err = d.errorf("%d bytes after the chunk", len(b)-d.off)
	}
	if err != nil {
		return Chunk{}, err
	}
	return c, nil
}

// decoder reads TBinaryProtocol from b; off is the next byte.
type decoder struct {
	b      []byte
	off    int
	vector int // the vector being read, -1 outside vectors
}

func (d *decoder) errorf(format string, args ...any) error {
	e := &Error{Column: -1, Row: -1, Err: malformed(format, args...)}
	if d.vector >= 0 {
		e.Column = d.vector
	}
	return e
}

func (d *decoder) short(what string, n int) error {
	return d.errorf("%s: need %d bytes at offset %d, have %d", what, n, d.off, len(d.b)-d.off)
}

func (d *decoder) need(what string, n int) error {
	if n < 0 || n > len(d.b)-d.off {
		return d.short(what, n)
	}
	return nil
}

func (d *decoder) u8(what string) (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.short(what, 1)
	}
	v := d.b[d.off]
	d.off++
	return v, nil
}

func (d *decoder) i32(what string) (int32, error) {
	if err := d.need(what, 4); err != nil {
		return 0, err
	}
	v := int32(binary.BigEndian.Uint32(d.b[d.off:]))
	d.off += 4
	return v, nil
}

func (d *decoder) i64(what string) (int64, error) {
	if err := d.need(what, 8); err != nil {
		return 0, err
	}
	v := int64(binary.BigEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v, nil
}

func (d *decoder) double(what string) (float64, error) {
	n, err := d.i64(what)
	return math.Float64frombits(uint64(n)), err
}

func (d *decoder) bool(what string) (bool, error) {
	v, err := d.u8(what)
	if err != nil {
		return false, err
	}
	if v > 1 {
		return false, d.errorf("%s: bool byte %d at offset %d", what, v, d.off-1)
	}
	return v == 1, nil
}

// bytes reads a string or binary: an i32 length and that many bytes. The
// result aliases d.b.
func (d *decoder) bytes(what string) ([]byte, error) {
	n, err := d.i32(what)
	if err != nil {
		return nil, err
	}
	if err := d.need(what, int(n)); err != nil {
		return nil, err
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v, nil
}

func (d *decoder) string(what string) (string, error) {
	b, err := d.bytes(what)
	return string(b), err
}

// field reads a field header: its type, and its id unless it is the stop
// field.
func (d *decoder) field(what string) (t byte, id int16, err error) {
	if t, err = d.u8(what); err != nil || t == tStop {
		return t, 0, err
	}
	if err := d.need(what, 2); err != nil {
		return 0, 0, err
	}
	id = int16(binary.BigEndian.Uint16(d.b[d.off:]))
	d.off += 2
	return t, id, nil
}

// minSize is the smallest encoding of a value of type t, or 0 for an
// invalid type.
func minSize(t byte) int {
	switch t {
	case tBool, tByte, tStruct:
		return 1
	case tI16:
		return 2
	case tI32, tString:
		return 4
	case tDouble, tI64:
		return 8
	case tMap:
		return 6
	case tSet, tList:
		return 5
	case tUUID:
		return 16
	}
	return 0
}

// list reads a list header whose elements must have type want (any type
// when the list is empty), and checks that n elements fit in the input.
func (d *decoder) list(what string, want byte) (int, error) {
	t, err := d.u8(what)
	if err != nil {
		return 0, err
	}
	n, err := d.i32(what)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, d.errorf("%s: list of %d elements", what, n)
	}
	if n == 0 {
		return 0, nil
	}
	if t != want {
		return 0, d.errorf("%s: list of %s, want %s", what, typeName(t), typeName(want))
	}
	if int64(n)*int64(minSize(t)) > int64(len(d.b)-d.off) {
		return 0, d.errorf("%s: list of %d elements does not fit in the %d bytes left", what, n, len(d.b)-d.off)
	}
	return int(n), nil
}

func typeName(t byte) string {
	switch t {
	case tBool:
		return "bool"
	case tByte:
		return "byte"
	case tDouble:
		return "double"
	case tI16:
		return "i16"
	case tI32:
		return "i32"
	case tI64:
		return "i64"
	case tString:
		return "string"
	case tStruct:
		return "struct"
	case tMap:
		return "map"
	case tSet:
		return "set"
	case tList:
		return "list"
	case tUUID:
		return "uuid"
	}
	return "type " + itoa(int(t))
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// skip skips a value of type t.
func (d *decoder) skip(t byte, depth int) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d", maxDepth)
	}
	switch t {
	case tBool, tByte, tI16, tI32, tI64, tDouble, tUUID:
		if err := d.need("skipped "+typeName(t), minSize(t)); err != nil {
			return err
		}
		d.off += minSize(t)
		return nil
	case tString:
		_, err := d.bytes("skipped string")
		return err
	case tStruct:
		for {
			ft, _, err := d.field("skipped struct")
			if err != nil {
				return err
			}
			if ft == tStop {
				return nil
			}
			if err := d.skip(ft, depth+1); err != nil {
				return err
			}
		}
	case tMap:
		kt, err := d.u8("skipped map")
		if err != nil {
			return err
		}
		vt, err := d.u8("skipped map")
		if err != nil {
			return err
		}
		n, err := d.i32("skipped map")
		if err != nil {
			return err
		}
		if n < 0 || (n > 0 && (minSize(kt) == 0 || minSize(vt) == 0)) ||
			int64(n)*int64(minSize(kt)+minSize(vt)) > int64(len(d.b)-d.off) {
			return d.errorf("skipped map of %d %s to %s", n, typeName(kt), typeName(vt))
		}
		for range n {
			if err := d.skip(kt, depth+1); err != nil {
				return err
			}
			if err := d.skip(vt, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tSet, tList:
		et, err := d.u8("skipped list")
		if err != nil {
			return err
		}
		n, err := d.i32("skipped list")
		if err != nil {
			return err
		}
		if n < 0 || (n > 0 && minSize(et) == 0) || int64(n)*int64(minSize(et)) > int64(len(d.b)-d.off) {
			return d.errorf("skipped list of %d %s", n, typeName(et))
		}
		for range n {
			if err := d.skip(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return d.errorf("field of unknown %s at offset %d", typeName(t), d.off)
}

func (d *decoder) chunk() (c Chunk, err error) {
	d.vector = -1
	var haveSize, haveVectors bool
	for {
		t, id, err := d.field("chunk")
		if err != nil {
			return c, err
		}
		switch {
		case t == tStop:
			if !haveSize {
				return c, d.errorf("chunk without its size")
			}
			if !haveVectors && c.Size > 0 {
				return c, d.errorf("chunk of %d rows without vectors", c.Size)
			}
			return c, nil
		case id == 1 && t == tI32:
			n, err := d.i32("chunk size")
			if err != nil {
				return c, err
			}
			c.Size, haveSize = int(n), true
		case id == 2 && t == tList:
			n, err := d.list("chunk vectors", tStruct)
			if err != nil {
				return c, err
			}
			// A Vector takes at least 1 byte on the wire but about 200 in
			// memory, so the capacity is bounded and grows with the input.
			c.Vectors = make([]Vector, 0, min(n, 1024))
			for i := range n {
				d.vector = i
				v, err := d.vectorStruct()
				if err != nil {
					return c, err
				}
				c.Vectors = append(c.Vectors, v)
			}
			d.vector = -1
			haveVectors = true
		default:
			if err := d.skip(t, 1); err != nil {
				return c, err
			}
		}
	}
}

func (d *decoder) vectorStruct() (v Vector, err error) {
	var haveSize, haveType bool
	for {
		t, id, err := d.field("vector")
		if err != nil {
			return v, err
		}
		switch {
		case t == tStop:
			if !haveSize || !haveType {
				return v, d.errorf("vector without its size or type")
			}
			return v, nil
		case id == 1 && t == tI32:
			var n int32
			n, err = d.i32("vector size")
			v.Size, haveSize = int(n), true
		case id == 2 && t == tI32:
			var n int32
			n, err = d.i32("vector type")
			v.Type, haveType = VectorType(n), true
		case id == 3 && t == tList:
			v.Nulls, err = d.bools("null set")
		case id == 4 && t == tStruct:
			v.Data, err = d.data()
		case id == 5 && t == tBool:
			v.Constant, err = d.bool("isConstantVector")
		case id == 6 && t == tString:
			v.Zone, err = d.string("zoneOffset")
		case id == 7 && t == tString:
			v.Format, err = d.string("format")
		default:
			err = d.skip(t, 2)
		}
		if err != nil {
			return v, err
		}
	}
}

func (d *decoder) bools(what string) ([]bool, error) {
	n, err := d.list(what, tBool)
	if err != nil || n == 0 {
		return nil, err
	}
	vs := make([]bool, n)
	for i, c := range d.b[d.off : d.off+n] {
		if c > 1 {
			return nil, d.errorf("%s: bool byte %d at offset %d", what, c, d.off+i)
		}
		vs[i] = c == 1
	}
	d.off += n
	return vs, nil
}

func (d *decoder) int32s(what string) ([]int32, error) {
	n, err := d.list(what, tI32)
	if err != nil || n == 0 {
		return nil, err
	}
	vs := make([]int32, n)
	b := d.b[d.off : d.off+4*n]
	for i := range vs {
		vs[i] = int32(binary.BigEndian.Uint32(b[4*i:]))
	}
	d.off += 4 * n
	return vs, nil
}

func (d *decoder) int64s(what string) ([]int64, error) {
	n, err := d.list(what, tI64)
	if err != nil || n == 0 {
		return nil, err
	}
	vs := make([]int64, n)
	b := d.b[d.off : d.off+8*n]
	for i := range vs {
		vs[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
	}
	d.off += 8 * n
	return vs, nil
}

func (d *decoder) float64s(what string) ([]float64, error) {
	n, err := d.list(what, tDouble)
	if err != nil || n == 0 {
		return nil, err
	}
	vs := make([]float64, n)
	b := d.b[d.off : d.off+8*n]
	for i := range vs {
		vs[i] = math.Float64frombits(binary.BigEndian.Uint64(b[8*i:]))
	}
	d.off += 8 * n
	return vs, nil
}

func (d *decoder) strings(what string) ([]string, error) {
	n, err := d.list(what, tString)
	if err != nil || n == 0 {
		return nil, err
	}
	vs := make([]string, n)
	for i := range vs {
		if vs[i], err = d.string(what); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// binaries reads a list of binary values; they alias d.b.
func (d *decoder) binaries(what string) ([][]byte, error) {
	n, err := d.list(what, tString)
	if err != nil || n == 0 {
		return nil, err
	}
	vs := make([][]byte, n)
	for i := range vs {
		if vs[i], err = d.bytes(what); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// data reads the union Data. More than one known member is an error.
func (d *decoder) data() (data Data, err error) {
	for {
		t, id, err := d.field("data")
		if err != nil {
			return data, err
		}
		if t == tStop {
			return data, nil
		}
		k := DataKind(id)
		if t != tStruct || k <= KindNone || k > KindNumericDecimal128ConstantData {
			if err := d.skip(t, 3); err != nil {
				return data, err
			}
			continue
		}
		if data.Kind != KindNone {
			return data, d.errorf("data union has two members, %v and %v", data.Kind, k)
		}
		data.Kind = k
		if err := d.member(&data); err != nil {
			return data, err
		}
	}
}

// member reads the struct of the union member data.Kind into data.
func (d *decoder) member(data *Data) error {
	k := data.Kind
	what := k.String()
	for {
		t, id, err := d.field(what)
		if err != nil {
			return err
		}
		switch {
		case t == tStop:
			return nil
		case id == 1 && t == tList:
			switch k {
			case KindBoolData:
				data.Bools, err = d.bools(what)
			case KindInt32Data:
				data.Int32s, err = d.int32s(what)
			case KindInt64Data, KindDateData, KindTimeData:
				data.Int64s, err = d.int64s(what)
			case KindFloat32Data, KindFloat64Data:
				data.Float64s, err = d.float64s(what)
			case KindVarcharData:
				data.Strings, err = d.strings(what)
			case KindDecimal128Data:
				data.Bytes, err = d.binaries(what)
			default:
				err = d.skip(t, 4)
			}
		case id == 2 && t == tList && k == KindTimeData:
			data.Zones, err = d.strings(what + " zones")
			if data.Zones == nil && err == nil {
				data.Zones = []string{}
			}
		case id == 2 && t == tI32 && (k == KindDecimal128Data || k == KindNumericDecimal128ConstantData):
			data.Scale, err = d.i32(what + " scale")
		case id == 2 && t == tString && k == KindTimeConstantData:
			var z string
			z, err = d.string(what + " zone")
			data.Zones = []string{z}
		case id == 1 && t == tBool && k == KindBoolConstantData:
			var b bool
			b, err = d.bool(what)
			data.Bools = []bool{b}
		case id == 1 && t == tI64 && (k == KindDateConstantData || k == KindNumericConstantData || k == KindTimeConstantData):
			var n int64
			n, err = d.i64(what)
			data.Int64s = []int64{n}
		case id == 1 && t == tByte && (k == KindNullConstantData || k == KindTemporalIntervalConstantData):
			var n byte
			n, err = d.u8(what)
			data.Int8s = []int8{int8(n)}
		case id == 1 && t == tDouble && k == KindNumericDecimalConstantData:
			var f float64
			f, err = d.double(what)
			data.Float64s = []float64{f}
		case id == 1 && t == tString && k == KindVarcharConstantData:
			var s string
			s, err = d.string(what)
			data.Strings = []string{s}
		case id == 1 && t == tString && k == KindNumericDecimal128ConstantData:
			var b []byte
			b, err = d.bytes(what)
			data.Bytes = [][]byte{b}
		default:
			err = d.skip(t, 4)
		}
		if err != nil {
			return err
		}
	}
}

// ChunkSize returns the size field of a Thrift Chunk without decoding its
// vectors when the size comes first, as the engine writes it; otherwise it
// decodes the whole chunk. Errors are those of [DecodeChunk].
func ChunkSize(b []byte) (int, error) {
	d := decoder{b: b, vector: -1}
	if t, id, err := d.field("chunk"); err == nil && t == tI32 && id == 1 {
		if n, err := d.i32("chunk size"); err == nil {
			return int(n), nil
		}
	}
	c, err := DecodeChunk(b)
	return c.Size, err
}

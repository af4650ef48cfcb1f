package resultenc

// A Chunk is one batch of rows, column-major: one [Vector] per column.
type Chunk struct {
	// Size is the number of rows. The engine signals the end of a result
	// with an empty batch or a chunk whose Size is zero or negative.
	Size int
	// Vectors holds one vector per column, in the order of the metadata.
	Vectors []Vector
}

// A Vector is the values of one column in a [Chunk], mirroring the Thrift
// struct Vector.
//
// A plain vector carries Size values and Size null flags. A constant vector
// (Constant is true) carries one value and one null flag that stand for all
// Size rows; its Data is then a constant member (BoolConstantData, ...).
type Vector struct {
	// Size is the number of rows.
	Size int
	// Type is the SQL type of the values.
	Type VectorType
	// Nulls holds a flag per row, true where the row is NULL; one flag for
	// a constant vector. An empty or nil slice means no row is NULL; a
	// slice of another length is malformed ([CheckChunk]).
	Nulls []bool
	// Data holds the values.
	Data Data
	// Constant marks a constant vector.
	Constant bool
	// Zone is the vector's zone offset, for temporal types; often empty.
	Zone string
	// Format is the vector's date format, for temporal types; often empty.
	Format string
}

// Data mirrors the Thrift union Data: Kind names the member, and the values
// are in the slice that holds that member's element type. The other slices
// are empty. A constant member has exactly one value in its slice.
//
//	Kind                                 values in
//	BoolData, BoolConstantData           Bools
//	Int32Data                            Int32s
//	Int64Data, DateData, TimeData,       Int64s (DATE and times: epoch
//	  DateConstantData,                    microseconds, UTC)
//	  NumericConstantData,
//	  TimeConstantData
//	Float32Data, Float64Data,            Float64s (Float32Data is a list of
//	  NumericDecimalConstantData           double on the wire)
//	VarcharData, VarcharConstantData     Strings
//	Decimal128Data,                      Bytes (big-endian two's complement
//	  NumericDecimal128ConstantData        unscaled values) and Scale
//	NullConstantData,                    Int8s
//	  TemporalIntervalConstantData
//
// TimeData and TimeConstantData also have an optional zone list: Zones is
// nil when the field is absent; for TimeConstantData it holds at most one
// zone.
type Data struct {
	// Kind names the union member; KindNone for no data or an unknown
	// member.
	Kind     DataKind
	Bools    []bool
	Int32s   []int32
	Int64s   []int64
	Float64s []float64
	Strings  []string
	Bytes    [][]byte
	Int8s    []int8
	Zones    []string
	Scale    int32
}

// Len returns the number of values the data carries for its kind.
func (d *Data) Len() int {
	switch d.Kind {
	case KindBoolData, KindBoolConstantData:
		return len(d.Bools)
	case KindInt32Data:
		return len(d.Int32s)
	case KindInt64Data, KindDateData, KindTimeData, KindDateConstantData,
		KindNumericConstantData, KindTimeConstantData:
		return len(d.Int64s)
	case KindFloat32Data, KindFloat64Data, KindNumericDecimalConstantData:
		return len(d.Float64s)
	case KindVarcharData, KindVarcharConstantData:
		return len(d.Strings)
	case KindDecimal128Data, KindNumericDecimal128ConstantData:
		return len(d.Bytes)
	case KindNullConstantData, KindTemporalIntervalConstantData:
		return len(d.Int8s)
	}
	return 0
}

package resultenc

import "strconv"

// VectorType is the Thrift enum VectorType: the SQL type of a vector's
// values. The numeric values are the wire values.
type VectorType int32

// The vector types, with their wire values.
const (
	TypeBinary      VectorType = 0
	TypeBoolean     VectorType = 1
	TypeDouble      VectorType = 2
	TypeFloat       VectorType = 3
	TypeInt96       VectorType = 4
	TypeInteger     VectorType = 5
	TypeLong        VectorType = 6
	TypeString      VectorType = 7
	TypeDate        VectorType = 8
	TypeDateTime    VectorType = 9
	TypeTimestamp   VectorType = 10
	TypeStruct      VectorType = 11
	TypeMap         VectorType = 12
	TypeArray       VectorType = 13
	TypeNull        VectorType = 14
	TypeTimestampTZ VectorType = 15
	TypeDecimal128  VectorType = 16
)

var typeNames = [...]string{
	TypeBinary:      "BINARY",
	TypeBoolean:     "BOOLEAN",
	TypeDouble:      "DOUBLE",
	TypeFloat:       "FLOAT",
	TypeInt96:       "INT96",
	TypeInteger:     "INTEGER",
	TypeLong:        "LONG",
	TypeString:      "STRING",
	TypeDate:        "DATE",
	TypeDateTime:    "DATETIME",
	TypeTimestamp:   "TIMESTAMP",
	TypeStruct:      "STRUCT",
	TypeMap:         "MAP",
	TypeArray:       "ARRAY",
	TypeNull:        "NULL",
	TypeTimestampTZ: "TIMESTAMP_TZ",
	TypeDecimal128:  "DECIMAL128",
}

// String returns the type name as the result metadata spells it ("LONG",
// "TIMESTAMP_TZ", ...), or "VectorType(n)" for a value outside the enum.
func (t VectorType) String() string {
	if t >= 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "VectorType(" + strconv.Itoa(int(t)) + ")"
}

// ParseVectorType returns the vector type whose name is s, as written in the
// result metadata's type names. It reports false for an unknown name.
func ParseVectorType(s string) (VectorType, bool) {
	for i, n := range typeNames {
		if n == s {
			return VectorType(i), true
		}
	}
	return 0, false
}

// DataKind names the member of the Thrift union Data that a vector carries;
// its value is the union's field id. The zero value means no data, or a
// member this package does not know (it was skipped).
type DataKind int16

// The members of the union Data, with their field ids.
const (
	KindNone                          DataKind = 0
	KindBoolData                      DataKind = 1
	KindInt32Data                     DataKind = 2
	KindInt64Data                     DataKind = 3
	KindDateData                      DataKind = 4
	KindFloat32Data                   DataKind = 5
	KindFloat64Data                   DataKind = 6
	KindVarcharData                   DataKind = 7
	KindBoolConstantData              DataKind = 8
	KindDateConstantData              DataKind = 9
	KindNullConstantData              DataKind = 10
	KindNumericConstantData           DataKind = 11
	KindNumericDecimalConstantData    DataKind = 12
	KindTemporalIntervalConstantData  DataKind = 13
	KindTimeConstantData              DataKind = 14
	KindVarcharConstantData           DataKind = 15
	KindTimeData                      DataKind = 16
	KindDecimal128Data                DataKind = 17
	KindNumericDecimal128ConstantData DataKind = 18
)

var kindNames = [...]string{
	KindNone:                          "None",
	KindBoolData:                      "BoolData",
	KindInt32Data:                     "Int32Data",
	KindInt64Data:                     "Int64Data",
	KindDateData:                      "DateData",
	KindFloat32Data:                   "Float32Data",
	KindFloat64Data:                   "Float64Data",
	KindVarcharData:                   "VarcharData",
	KindBoolConstantData:              "BoolConstantData",
	KindDateConstantData:              "DateConstantData",
	KindNullConstantData:              "NullConstantData",
	KindNumericConstantData:           "NumericConstantData",
	KindNumericDecimalConstantData:    "NumericDecimalConstantData",
	KindTemporalIntervalConstantData:  "TemporalIntervalConstantData",
	KindTimeConstantData:              "TimeConstantData",
	KindVarcharConstantData:           "VarcharConstantData",
	KindTimeData:                      "TimeData",
	KindDecimal128Data:                "Decimal128Data",
	KindNumericDecimal128ConstantData: "NumericDecimal128ConstantData",
}

// String returns the Thrift struct name of the member ("Int64Data", ...).
func (k DataKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "DataKind(" + strconv.Itoa(int(k)) + ")"
}

// Constant reports whether k is one of the constant members, which carry a
// single value for all rows of a constant vector.
func (k DataKind) Constant() bool {
	switch k {
	case KindBoolConstantData, KindDateConstantData, KindNullConstantData,
		KindNumericConstantData, KindNumericDecimalConstantData,
		KindTemporalIntervalConstantData, KindTimeConstantData,
		KindVarcharConstantData, KindNumericDecimal128ConstantData:
		return true
	}
	return false
}

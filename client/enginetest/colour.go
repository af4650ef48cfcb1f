package enginetest

// Colour is a deployment colour the engine serves, [Blue] or [Green]; the
// zero value, [NoColour], names none. It is the fake's own: the engine
// knows its colours by the words of the strategy header, not by the
// client's types.
type Colour uint8

// The colours.
const (
	NoColour Colour = iota
	Blue
	Green
)

// String returns "blue", "green", or "" for NoColour and any invalid value,
// as the strategy header spells them.
func (c Colour) String() string {
	switch c {
	case Blue:
		return "blue"
	case Green:
		return "green"
	}
	return ""
}

// Valid reports whether c is Blue or Green.
func (c Colour) Valid() bool { return c == Blue || c == Green }

// Other returns Green for Blue, Blue for Green, and NoColour otherwise.
func (c Colour) Other() Colour {
	switch c {
	case Blue:
		return Green
	case Green:
		return Blue
	}
	return NoColour
}

package cache

import (
	"fmt"
	"strings"
)

// Strategy is a deployment colour of the engine. The zero value, [Unknown],
// names no colour and is never sent to the engine.
type Strategy uint8

// The colours. Only [Blue] and [Green] are valid on the wire.
const (
	Unknown Strategy = iota
	Blue
	Green
)

// ParseStrategy parses a colour as the engine and the store spell it. It trims
// space and ignores case. Anything but blue or green is an error that wraps
// [ErrInvalidStrategy]; the input is quoted in the message, truncated to a
// short length so that a corrupt value cannot flood a log.
func ParseStrategy(s string) (Strategy, error) {
	t := strings.TrimSpace(s)
	switch {
	case strings.EqualFold(t, "blue"):
		return Blue, nil
	case strings.EqualFold(t, "green"):
		return Green, nil
	}
	if len(t) > 32 {
		t = t[:32] + "..."
	}
	return Unknown, fmt.Errorf("%w: %q", ErrInvalidStrategy, t)
}

// String returns "blue", "green", or "" for [Unknown] and any invalid value,
// so that the result can be put in a header as it is.
func (s Strategy) String() string {
	switch s {
	case Blue:
		return "blue"
	case Green:
		return "green"
	}
	return ""
}

// Valid reports whether s is [Blue] or [Green].
func (s Strategy) Valid() bool { return s == Blue || s == Green }

// Other returns the other colour: Green for Blue, Blue for Green, and Unknown
// for anything else.
func (s Strategy) Other() Strategy {
	switch s {
	case Blue:
		return Green
	case Green:
		return Blue
	}
	return Unknown
}

// Strategies lists the valid colours in a fixed order.
var Strategies = [2]Strategy{Blue, Green}

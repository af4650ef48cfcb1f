//go:build !race

package client_test

// raceEnabled reports whether the race detector is on; it adds allocations
// of its own.
const raceEnabled = false

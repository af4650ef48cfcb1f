//go:build race

package sqldriver_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = true

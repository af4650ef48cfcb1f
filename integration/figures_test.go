package integration

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// figures are what a scenario measured: how long detection, convergence or
// a takeover took against DESIGN.md's budgets, latency ratios, counts.
// They are reported, not asserted (a busy machine stretches them); the
// scenarios assert the invariants and the structural checks, and wait on
// each condition with a deadline that only catches a hang.
type figures map[string]any

// logFigures logs f, with the scenario's name under "scenario", as one
// line: "scenario-json " and a JSON object. `go test -v` shows it, for
// README's table to quote.
func logFigures(t *testing.T, f figures) {
	t.Helper()
	f["scenario"] = t.Name()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scenario-json %s", b)
}

// ms returns d in milliseconds, to a hundredth.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// hangAfter is the deadline of a wait on a condition with a budget: ten
// times the budget, so that it catches a hang and not a slow machine.
func hangAfter(budget time.Duration) time.Duration { return 10 * budget }

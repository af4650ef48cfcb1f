package hist_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/e6coord/e6coord/coordinator/internal/hist"
)

func TestDurations(t *testing.T) {
	h := hist.New([]float64{0.001, 0.01})
	var wg sync.WaitGroup
	for _, d := range []time.Duration{-time.Second, 0, time.Millisecond, 2 * time.Millisecond, 10 * time.Millisecond, time.Second} {
		wg.Go(func() { h.Observe(d) })
	}
	wg.Wait()
	bounds, counts, sum := h.Snapshot()
	if !slices.Equal(bounds, []float64{0.001, 0.01}) {
		t.Errorf("bounds = %v", bounds)
	}
	// -1s and 0 and 1ms are at most 1ms; 2ms and 10ms at most 10ms; 1s above.
	if want := []uint64{3, 2, 1}; !slices.Equal(counts, want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
	if h.Count() != 6 {
		t.Errorf("Count() = %d, want 6", h.Count())
	}
	if want := 1.013; sum < want-1e-9 || sum > want+1e-9 {
		t.Errorf("sum = %v, want %v (a negative duration counts as 0)", sum, want)
	}
}

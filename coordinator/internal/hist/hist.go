// Package hist counts durations in fixed buckets, lock-free: the histogram
// of the coordinator's Stats.
package hist

import (
	"sync/atomic"
	"time"
)

// Durations is a distribution of durations over fixed upper bounds, in
// seconds. It is safe for concurrent use; make it with [New].
type Durations struct {
	bounds []float64
	counts []atomic.Uint64 // one per bound, and the last for those above them all
	count  atomic.Uint64
	sumNs  atomic.Int64
}

// New returns an empty distribution over bounds, which must increase.
func New(bounds []float64) *Durations {
	return &Durations{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe adds d; a negative d counts as 0.
func (h *Durations) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(h.bounds) && d.Seconds() > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.count.Add(1)
	h.sumNs.Add(int64(d))
}

// Snapshot returns the bounds; the observations per bucket, counts[i]
// those at most bounds[i] and above bounds[i-1], and the last those above
// every bound; and the sum of the observations in seconds.
func (h *Durations) Snapshot() (bounds []float64, counts []uint64, sum float64) {
	counts = make([]uint64, len(h.counts))
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
	}
	return h.bounds, counts, time.Duration(h.sumNs.Load()).Seconds()
}

// Count returns the number of observations.
func (h *Durations) Count() uint64 { return h.count.Load() }

package coordinator_test

import (
	"context"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// BenchmarkColourForCall measures the per-call read of the colour: one atomic
// load of the snapshot; no clock read, no lock, no store round trip.
func BenchmarkColourForCall(b *testing.B) {
	for _, bc := range []struct {
		name string
		run  func(b *testing.B, read func() cache.Strategy)
	}{
		{"serial", func(b *testing.B, read func() cache.Strategy) {
			for b.Loop() {
				if read() != cache.Blue {
					b.Fatal("wrong colour")
				}
			}
		}},
		{"parallel", func(b *testing.B, read func() cache.Strategy) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if read() != cache.Blue {
						b.Error("wrong colour")
						return
					}
				}
			})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, cache.Blue)
			c := e.coord(func(cfg *coordinator.Config) { cfg.Now = time.Now })
			if s, err := c.Resolve(context.Background()); err != nil || s != cache.Blue {
				b.Fatalf("Resolve() = %v, %v", s, err)
			}
			b.ReportAllocs()
			bc.run(b, c.Strategy)
		})
	}
}

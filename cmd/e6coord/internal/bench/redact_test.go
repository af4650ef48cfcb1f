package bench_test

import (
	"testing"

	"github.com/e6coord/e6coord/cmd/e6coord/internal/bench"
	"github.com/e6coord/e6coord/internal/secrettest"
)

// Options printed with every verb and through slog hold no secret of the
// Redis URL, in any of its forms (as internal/redact's test checks the
// other configurations).
func TestOptionsHideSecrets(t *testing.T) {
	s := secrettest.New()
	for _, u := range s.RedisURLs() {
		s.CheckPrinted(t, "bench.Options", bench.Options{RedisURL: u})
	}
}

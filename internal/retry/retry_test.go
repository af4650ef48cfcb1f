package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/e6coord/e6coord/internal/retry"
)

func TestBackoff(t *testing.T) {
	for n := 1; n <= 2; n++ {
		if d := retry.Backoff(n); d != 0 {
			t.Errorf("Backoff(%d) = %v, want 0", n, d)
		}
	}
	for n := 3; n <= 20; n++ {
		base := min(20*time.Millisecond<<min(n-3, 10), time.Second)
		for range 50 {
			if d := retry.Backoff(n); d < base/2 || d >= base*3/2 {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v)", n, d, base/2, base*3/2)
			}
		}
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := retry.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v, want Canceled", err)
	}
	if err := retry.Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
}

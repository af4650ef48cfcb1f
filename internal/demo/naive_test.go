package demo_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/internal/demo"
)

// The demo with naive workers, against the fake engine switching every
// second, in each mode: through the embedded proxy no query fails; straight
// to the engine, the failures are what the published client's behaviour
// gets, logged.
func TestDemoNaive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		for _, viaProxy := range []bool{false, true} {
			name := mode.String() + "/direct"
			if viaProxy {
				name = mode.String() + "/proxy"
			}
			t.Run(name, func(t *testing.T) {
				var out bytes.Buffer
				sum, err := demo.Run(context.Background(), demo.Options{
					Duration: 6 * time.Second, FlipEvery: time.Second, Workers: 4,
					Mode: mode, Naive: true, Proxy: viaProxy,
				}, &out)
				t.Logf("demo output:\n%s", out.String())
				if err != nil {
					t.Fatal(err)
				}
				if sum.Queries == 0 {
					t.Fatalf("summary %+v: no query ran", sum)
				}
				if sum.Switches == 0 {
					t.Errorf("summary %+v: no switch", sum)
				}
				if viaProxy && sum.Failed != 0 {
					t.Errorf("through the proxy: %d of %d queries failed, want 0", sum.Failed, sum.Queries)
				}
				if !viaProxy {
					t.Logf("straight to the engine: %d of %d queries failed, %d 456s", sum.Failed, sum.Queries, sum.WrongStrategy)
				}
			})
		}
	}
}

func TestDemoNaiveBadOptions(t *testing.T) {
	for _, o := range []demo.Options{
		{Proxy: true},
		{Naive: true, NoFetch: true},
	} {
		var out bytes.Buffer
		if _, err := demo.Run(context.Background(), o, &out); err == nil {
			t.Errorf("%+v: no error", o)
		} else {
			t.Logf("%+v: %v", o, err)
		}
	}
}

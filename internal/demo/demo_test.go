package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"go.uber.org/goleak"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A short demo for every switch mode, rejection style and policy: no query
// fails, none carries two colours, and the switches are reported.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	for _, mode := range []enginetest.SwitchMode{enginetest.Overlap, enginetest.SwitchOnClear} {
		for _, reject := range []enginetest.Rejection{enginetest.RejectHTTP456, enginetest.RejectUnknown, enginetest.RejectInvalidArgument} {
			for _, p := range []coordinator.Policy{coordinator.Drain, coordinator.Eager} {
				t.Run(fmt.Sprintf("mode=%s/reject=%s/policy=%s", mode, reject, p), func(t *testing.T) {
					var out bytes.Buffer
					sum, err := demo.Run(context.Background(), demo.Options{
						Duration: 1600 * time.Millisecond, FlipEvery: 400 * time.Millisecond, Workers: 4,
						Mode: mode, Reject: reject, Policy: p,
					}, &out)
					if err != nil {
						t.Fatal(err)
					}
					if sum.Failed != 0 || sum.Mixed != 0 || sum.Queries == 0 || sum.Switches < 2 {
						t.Errorf("summary %+v: want queries, no failed or mixed, 2 switches or more\n%s", sum, out.String())
					}
					if sum.Rows != sum.Queries*enginetest.NumbersRows {
						t.Errorf("read %d rows in %d queries, want %d each", sum.Rows, sum.Queries, enginetest.NumbersRows)
					}
					if got := strings.Count(out.String(), " -> "); int64(got) != sum.Switches {
						t.Errorf("printed %d switch lines, summary says %d\n%s", got, sum.Switches, out.String())
					}
				})
			}
		}
	}
}

func TestDemoExecWithoutFetch(t *testing.T) {
	var out bytes.Buffer
	sum, err := demo.Run(context.Background(), demo.Options{
		Duration: 300 * time.Millisecond, FlipEvery: 100 * time.Millisecond, Workers: 2, NoFetch: true,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.Queries == 0 || sum.Rows != 0 {
		t.Errorf("summary %+v: want queries without rows, none failed", sum)
	}
}

// A wrong Redis password is a configuration error: no query fails, and the
// summary says the store was never reached and why.
func TestDemoWrongRedisPassword(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireAuth("right")
	var out bytes.Buffer
	sum, err := demo.Run(context.Background(), demo.Options{
		Duration: 300 * time.Millisecond, FlipEvery: time.Hour, Workers: 2,
		Client: client.Config{RedisURL: "redis://:wrong@" + mr.Addr() + "/0"},
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.Queries == 0 {
		t.Errorf("summary %+v: want queries and none failed", sum)
	}
	if sum.StoreUnreached != 1 || sum.StoreDenied != 1 {
		t.Errorf("store_unreached %d, store_denied %d; want 1 and 1", sum.StoreUnreached, sum.StoreDenied)
	}
	if !strings.Contains(out.String(), "never reached by 1 of 1 processes (it refused access") {
		t.Errorf("the summary does not say the store was never reached:\n%s", out.String())
	}
	if strings.Contains(out.String(), "wrong") {
		t.Errorf("the output shows the password:\n%s", out.String())
	}
}

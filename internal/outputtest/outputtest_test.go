package outputtest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/e6coord/e6coord/internal/outputtest"
)

func TestWaitFor(t *testing.T) {
	var b outputtest.Buffer
	go func() {
		for i := range 3 {
			fmt.Fprintf(&b, "line %d ready\n", i)
		}
	}()
	b.WaitFor(t, "ready", 3, 10*time.Second)
	if got := b.String(); got != "line 0 ready\nline 1 ready\nline 2 ready\n" {
		t.Errorf("String() = %q", got)
	}
}

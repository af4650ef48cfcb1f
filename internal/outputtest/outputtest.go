// Package outputtest captures what code under test writes from any
// goroutine (a command's stdout or stderr, a logger's records), and lets
// the test wait for text in it.
package outputtest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer that any number of goroutines may write and
// read at once. The zero value is ready to use.
type Buffer struct {
	mu    sync.Mutex // guards b and wrote
	b     bytes.Buffer
	wrote chan struct{} // closed by the next Write; nil until a reader waits
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wrote != nil {
		close(b.wrote)
		b.wrote = nil
	}
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// next returns what was written so far and a channel closed by the next
// Write.
func (b *Buffer) next() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wrote == nil {
		b.wrote = make(chan struct{})
	}
	return b.b.String(), b.wrote
}

// WaitFor waits until what was written holds s at least n times, and
// fails t if that takes longer than timeout.
func (b *Buffer) WaitFor(t testing.TB, s string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		out, wrote := b.next()
		if strings.Count(out, s) >= n {
			return
		}
		select {
		case <-wrote:
		case <-deadline.C:
			t.Fatalf("the output does not hold %d times %q after %v:\n%s", n, s, timeout, b.String())
		}
	}
}

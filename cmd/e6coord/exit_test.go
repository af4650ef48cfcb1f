package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err     error
		code    int
		printed string
	}{
		{nil, 0, ""},
		{errFailed, 1, ""},
		{errors.New("boom"), 1, "e6coord: boom\n"},
		{&exitError{code: 2}, 2, ""},
		{&exitError{code: 3, err: errors.New("stale")}, 3, "e6coord: stale\n"},
		{fmt.Errorf("status: %w", &exitError{code: 4, err: errors.New("late")}), 4, "e6coord: late\n"},
		{&exitError{code: 1, err: errFailed}, 1, ""},
	} {
		var out bytes.Buffer
		if got := exitCode(tt.err, &out); got != tt.code || out.String() != tt.printed {
			t.Errorf("exitCode(%v) = %d, printed %q; want %d, %q", tt.err, got, out.String(), tt.code, tt.printed)
		}
	}
}

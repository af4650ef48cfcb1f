package demo

import (
	"strings"
	"testing"
)

// The summary says which processes ran uncoordinated, and why: never
// reached, refused from the start, or refused at the end though the
// store answered them before (store_denied without store_unreached).
func TestStoreLine(t *testing.T) {
	tests := []struct {
		sum  Summary
		want string // in the line; "" for no line
	}{
		{Summary{Processes: 3}, ""},
		{Summary{Processes: 3, StoreUnreached: 2}, "never reached by 2 of 3 processes (it was unreachable)"},
		{Summary{Processes: 3, StoreUnreached: 1, StoreDenied: 1}, "never reached by 1 of 3 processes (it refused access: check the Redis password"},
		{Summary{Processes: 3, StoreDenied: 2}, "the store refused access to 2 of 3 processes at the end (check the Redis password and ACL, and that the URL names the primary"},
	}
	for _, tt := range tests {
		got := storeLine(tt.sum)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("storeLine(%+v) = %q, want one holding %q", tt.sum, got, tt.want)
		}
	}
}

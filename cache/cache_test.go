package cache_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/e6coord/e6coord/cache"
)

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want cache.Strategy
	}{
		{"blue", "blue", cache.Blue},
		{"green", "green", cache.Green},
		{"upper", "BLUE", cache.Blue},
		{"mixed", "gReEn", cache.Green},
		{"spaces", "  blue  ", cache.Blue},
		{"tabs and newline", "\tGreen\r\n", cache.Green},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cache.ParseStrategy(tt.in)
			if err != nil {
				t.Fatalf("ParseStrategy(%q) error = %v, want nil", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseStrategy(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseStrategyInvalid(t *testing.T) {
	long := strings.Repeat("x", 1000) + "blue"
	tests := []struct {
		name string
		in   string
		// quoted is a piece the message must contain.
		quoted string
	}{
		{"empty", "", `""`},
		{"space only", " \t\n", `""`},
		{"red", "red", `"red"`},
		{"two colours", "blue green", `"blue green"`},
		{"glued", "bluegreen", `"bluegreen"`},
		{"inner space", "bl ue", `"bl ue"`},
		{"number", "1", `"1"`},
		{"nul", "blue\x00", `"blue\x00"`},
		{"prefix", "blu", `"blu"`},
		{"long junk", long, `"` + long[:32]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cache.ParseStrategy(tt.in)
			if !errors.Is(err, cache.ErrInvalidStrategy) {
				t.Fatalf("ParseStrategy(%q) error = %v, want one wrapping %v", tt.in, err, cache.ErrInvalidStrategy)
			}
			if got != cache.Unknown {
				t.Errorf("ParseStrategy(%q) = %v, want Unknown", tt.in, got)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.quoted) {
				t.Errorf("ParseStrategy(%q) error %q does not contain %s", tt.in, msg, tt.quoted)
			}
			if limit := len(cache.ErrInvalidStrategy.Error()) + 48; len(msg) > limit {
				t.Errorf("ParseStrategy(%d bytes) error is %d bytes long, want at most %d: %q", len(tt.in), len(msg), limit, msg)
			}
		})
	}
}

func TestStrategy(t *testing.T) {
	tests := []struct {
		s     cache.Strategy
		str   string
		valid bool
		other cache.Strategy
	}{
		{cache.Unknown, "", false, cache.Unknown},
		{cache.Blue, "blue", true, cache.Green},
		{cache.Green, "green", true, cache.Blue},
		{cache.Strategy(3), "", false, cache.Unknown},
		{cache.Strategy(255), "", false, cache.Unknown},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.str {
			t.Errorf("Strategy(%d).String() = %q, want %q", tt.s, got, tt.str)
		}
		if got := tt.s.Valid(); got != tt.valid {
			t.Errorf("Strategy(%d).Valid() = %v, want %v", tt.s, got, tt.valid)
		}
		if got := tt.s.Other(); got != tt.other {
			t.Errorf("Strategy(%d).Other() = %d, want %d", tt.s, got, tt.other)
		}
	}
}

func TestStrategyRoundTrip(t *testing.T) {
	for _, s := range cache.Strategies {
		got, err := cache.ParseStrategy(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %v, %v; want %v, nil", s.String(), got, err, s)
		}
		if s.Other().Other() != s {
			t.Errorf("%v.Other().Other() = %v, want %v", s, s.Other().Other(), s)
		}
	}
}

func TestStateValidate(t *testing.T) {
	tests := []struct {
		name  string
		state cache.State
		want  error // nil, or the sentinel the error must wrap
	}{
		{"generation only", cache.State{Generation: 1}, nil},
		{"active blue", cache.State{Active: cache.Blue, Generation: 1}, nil},
		{"active green pending blue", cache.State{Active: cache.Green, Pending: cache.Blue, Generation: 7}, nil},
		{"pending without active", cache.State{Pending: cache.Green, Generation: 2}, nil},
		{"zero", cache.State{}, cache.ErrInvalidRecord},
		{"generation zero", cache.State{Active: cache.Blue}, cache.ErrInvalidRecord},
		{"pending equals active blue", cache.State{Active: cache.Blue, Pending: cache.Blue, Generation: 1}, cache.ErrInvalidRecord},
		{"pending equals active green", cache.State{Active: cache.Green, Pending: cache.Green, Generation: 1}, cache.ErrInvalidRecord},
		{"invalid active", cache.State{Active: cache.Strategy(3), Generation: 1}, cache.ErrInvalidStrategy},
		{"invalid pending", cache.State{Active: cache.Blue, Pending: cache.Strategy(9), Generation: 1}, cache.ErrInvalidStrategy},
		{"invalid both equal", cache.State{Active: cache.Strategy(4), Pending: cache.Strategy(4), Generation: 1}, cache.ErrInvalidStrategy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.state.Validate()
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("%+v.Validate() = %v, want nil", tt.state, err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("%+v.Validate() = %v, want an error wrapping %v", tt.state, err, tt.want)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		state cache.State
		want  string
	}{
		{cache.State{Generation: 1}, "gen=1 active=none"},
		{cache.State{Active: cache.Blue, Generation: 3}, "gen=3 active=blue"},
		{cache.State{Active: cache.Blue, Pending: cache.Green, Generation: 3}, "gen=3 active=blue pending=green"},
	}
	for _, tt := range tests {
		if got := tt.state.String(); got != tt.want {
			t.Errorf("State.String() = %q, want %q", got, tt.want)
		}
	}
}

func TestPinCounts(t *testing.T) {
	c := cache.PinCounts{Blue: 2, Green: 5}
	for _, tt := range []struct {
		s    cache.Strategy
		want int
	}{{cache.Blue, 2}, {cache.Green, 5}, {cache.Unknown, 0}, {cache.Strategy(9), 0}} {
		if got := c.Of(tt.s); got != tt.want {
			t.Errorf("%+v.Of(%d) = %d, want %d", c, tt.s, got, tt.want)
		}
	}
	if got := c.Total(); got != 7 {
		t.Errorf("%+v.Total() = %d, want 7", c, got)
	}
}

func TestScopeString(t *testing.T) {
	s := cache.Scope{Cluster: "prod", Engine: "e6.example:9000"}
	if got, want := s.String(), "prod/e6.example:9000"; got != want {
		t.Errorf("Scope.String() = %q, want %q", got, want)
	}
}

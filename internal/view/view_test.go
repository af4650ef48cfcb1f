package view_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/internal/view"
)

func TestOf(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := cache.State{Active: cache.Blue, Pending: cache.Green, Generation: 7, ConfirmedAt: t0, ChangedAt: t0, ChangedBy: "p1"}
	up := view.Store{State: "up", Address: "redis://127.0.0.1:6379/0"}
	for _, tt := range []struct {
		name  string
		rec   cache.State
		store view.Store
		stale bool
		want  string
	}{
		{"healthy", rec, up, false, view.Healthy},
		{"stale", rec, up, true, view.Degraded},
		{"store down", rec, view.Store{State: "unreachable"}, false, view.Degraded},
		{"store denied", rec, view.Store{State: "denied"}, false, view.Degraded},
		{"no colour", cache.State{}, up, false, view.Unknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := view.Of(tt.rec, cache.PinCounts{Blue: 2, Green: 1}, tt.store, tt.stale)
			if v.Status != tt.want {
				t.Errorf("Status = %q, want %q", v.Status, tt.want)
			}
		})
	}
	b, err := json.Marshal(view.Of(rec, cache.PinCounts{Blue: 2, Green: 1}, up, false))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "active", "pending", "generation", "confirmed_at", "changed_at", "changed_by", "cluster", "pins", "store"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s has no %q", b, k)
		}
	}
	if got := m["pins"].(map[string]any)["blue"]; got != 2.0 {
		t.Errorf("pins.blue = %v, want 2", got)
	}
	for _, k := range []string{"state", "state_since", "last_error_kind", "address"} {
		if _, ok := m["store"].(map[string]any)[k]; !ok {
			t.Errorf("JSON %s has no store.%q", b, k)
		}
	}
	if got := view.Of(cache.State{}, cache.PinCounts{}, up, false); got.ConfirmedAt != nil || got.Active != "" {
		t.Errorf("empty record: %+v, want no times and no colour", got)
	}
	txt := view.Of(rec, cache.PinCounts{}, up, false).Text(t0.Add(12 * time.Second))
	if want := "healthy active=blue pending=green gen=7 confirmed 12s ago pins blue=0 green=0 store up"; txt != want {
		t.Errorf("Text() = %q, want %q", txt, want)
	}
	rec.Cluster = cache.ClusterResuming
	txt = view.Of(rec, cache.PinCounts{}, up, false).Text(t0)
	if want := "healthy active=blue pending=green gen=7 confirmed 0s ago cluster=resuming pins blue=0 green=0 store up"; txt != want {
		t.Errorf("Text() = %q, want %q", txt, want)
	}
	if strings.Contains(txt, "\n") {
		t.Error("Text() spans lines")
	}
}

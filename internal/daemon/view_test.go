package daemon_test

import (
	"testing"

	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/view"
)

// The daemon shows a coordinator's store state by its name; status and
// events, which run no coordinator, by view's constants: they are the same
// words.
func TestStoreStateNames(t *testing.T) {
	for s, want := range map[coordinator.StoreState]string{
		coordinator.StoreUnknown:     view.StoreUnknown,
		coordinator.StoreUp:          view.StoreUp,
		coordinator.StoreUnreachable: view.StoreUnreachable,
		coordinator.StoreDenied:      view.StoreDenied,
	} {
		if s.String() != want {
			t.Errorf("%v named %q by the coordinator, %q by view", int(s), s.String(), want)
		}
	}
}

package enginetest

import (
	"context"
	"fmt"
	"time"
)

// State is the colour state of the fake engine.
type State struct {
	// Active is the colour being served. During an Overlap switch it is the
	// old colour, still accepted.
	Active Colour
	// Pending is the colour announced in new_strategy, or NoColour
	// when nothing is announced.
	Pending Colour
	// Overlapping means Pending is accepted as well as Active (an Overlap
	// switch in progress).
	Overlapping bool
	// SwitchAtClear means the next clear or clearOrCancelQuery of a known
	// query makes Pending the only accepted colour (a SwitchOnClear switch
	// in progress).
	SwitchAtClear bool
	// Switches counts the completed switches.
	Switches int
	// Generation grows by one with every change.
	Generation uint64
}

// Accepts reports whether a call carrying colour c is served.
func (s State) Accepts(c Colour) bool {
	return c.Valid() && (c == s.Active || (s.Overlapping && c == s.Pending))
}

// String summarises the state: "gen=3 active=blue pending=green (overlap)".
func (s State) String() string {
	str := fmt.Sprintf("gen=%d active=%s", s.Generation, s.Active)
	if s.Pending.Valid() {
		str += " pending=" + s.Pending.String()
		switch {
		case s.Overlapping:
			str += " (overlap)"
		case s.SwitchAtClear:
			str += " (at next clear)"
		}
	}
	return str
}

// State returns the current colour state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// change applies f to the state under the lock; if f reports a change, it
// bumps the generation and calls OnChange after unlocking.
func (s *Server) change(f func(st *State) (bool, error)) error {
	s.mu.Lock()
	changed, err := f(&s.state)
	if changed {
		s.state.Generation++
	}
	st := s.state
	s.mu.Unlock()
	if changed && s.opts.OnChange != nil {
		s.opts.OnChange(st)
	}
	return err
}

func checkColour(c Colour) error {
	if !c.Valid() {
		return fmt.Errorf("enginetest: invalid colour %d", c)
	}
	return nil
}

// SetActive makes c the only accepted colour at once, without announcing
// it, and abandons any switch or announcement in progress: the abrupt
// switch a client that missed the announcement meets.
func (s *Server) SetActive(c Colour) error {
	if err := checkColour(c); err != nil {
		return err
	}
	return s.change(func(st *State) (bool, error) {
		switched := st.Active != c
		*st = State{Active: c, Switches: st.Switches, Generation: st.Generation}
		if switched {
			st.Switches++
		}
		return true, nil
	})
}

// Announce sets new_strategy=c in every response that has the field,
// without changing which colours are accepted; NoColour stops
// announcing. It abandons any switch in progress. An engine may announce a
// colour before it accepts it; this is that engine.
func (s *Server) Announce(c Colour) error {
	if c != NoColour {
		if err := checkColour(c); err != nil {
			return err
		}
	}
	return s.change(func(st *State) (bool, error) {
		st.Pending, st.Overlapping, st.SwitchAtClear = c, false, false
		return true, nil
	})
}

// BeginSwitch starts a switch to colour to, as [Options.Mode] says: in
// Overlap mode, to is announced and accepted alongside the active colour;
// in SwitchOnClear mode, to is announced and the next clear switches. It
// fails if to is invalid or already active.
func (s *Server) BeginSwitch(to Colour) error {
	if err := checkColour(to); err != nil {
		return err
	}
	return s.change(func(st *State) (bool, error) {
		if st.Active == to {
			return false, fmt.Errorf("enginetest: %s is already active", to)
		}
		st.Pending = to
		st.Overlapping = s.opts.Mode == Overlap
		st.SwitchAtClear = s.opts.Mode == SwitchOnClear
		return true, nil
	})
}

// FinishSwitch completes the switch or announcement in progress now: the
// pending colour becomes the only accepted one and is no longer announced.
// It reports false if no colour other than the active one was pending.
func (s *Server) FinishSwitch() bool {
	var done bool
	s.change(func(st *State) (bool, error) {
		done = finish(st)
		return done, nil
	})
	return done
}

func finish(st *State) bool {
	if !st.Pending.Valid() || st.Pending == st.Active {
		return false
	}
	*st = State{Active: st.Pending, Switches: st.Switches + 1, Generation: st.Generation}
	return true
}

// clearSwitch carries out a SwitchOnClear switch, if one waits for a clear.
func (s *Server) clearSwitch() {
	s.change(func(st *State) (bool, error) {
		if !st.SwitchAtClear {
			return false, nil
		}
		return finish(st), nil
	})
}

// flipLoop starts a switch to the other colour every FlipEvery until ctx
// is done.
func (s *Server) flipLoop(ctx context.Context) {
	tick := time.NewTicker(s.opts.FlipEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := s.State()
		if st.SwitchAtClear {
			continue // still waiting for a clear
		}
		if err := s.BeginSwitch(st.Active.Other()); err != nil {
			continue
		}
		if s.opts.Mode != Overlap {
			continue
		}
		overlap := time.NewTimer(s.opts.OverlapWindow)
		select {
		case <-ctx.Done():
			overlap.Stop()
			return
		case <-overlap.C:
		}
		s.FinishSwitch()
	}
}

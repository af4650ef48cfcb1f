// Package cache is the vocabulary and the contract of e6coord's shared state.
//
// An e6data engine deployed blue-green serves one colour at a time; every call
// must name it. A fleet of processes shares, per engine [Scope], one [State]
// record (the active colour, a pending colour the engine announced, and a
// generation that grows with every change) and a map of in-flight queries
// pinned to the colour they were prepared with ([Pin]), each pin a lease that
// expires unless renewed.
//
// A [Store] keeps both, atomically. Backends live in sub-packages:
// cache/memory for one process, cache/redis for a fleet. Every backend must
// pass the conformance suite in cache/cachetest. A backend that can push
// changes also implements [Watcher].
//
// This package imports only the standard library.
package cache

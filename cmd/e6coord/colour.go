package main

import "github.com/e6coord/e6coord/cache"

// parseColour parses a colour flag.
func parseColour(s string) (cache.Strategy, error) { return cache.ParseStrategy(s) }

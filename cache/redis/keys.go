package redis

import (
	"strings"

	"github.com/e6coord/e6coord/cache"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty.
const DefaultPrefix = "e6coord"

// keys are the Redis names of one scope.
type keys struct {
	record, blue, green, lease, events string
}

// tagEscaper escapes the characters that would make two scopes share a tag
// ('/' joins the fields, '%' escapes) or break the hash tag ('{', '}').
var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D", "/", "%2F")

// tag returns the hash tag of scope: its fields escaped and joined by '/'.
func tag(scope cache.Scope) string {
	return tagEscaper.Replace(scope.Cluster) + "/" + tagEscaper.Replace(scope.Engine)
}

// keysOf returns the names of scope's keys and channel.
func (s *Store) keysOf(scope cache.Scope) keys {
	base := s.prefix + ":{" + tag(scope) + "}:"
	return keys{
		record: base + "record",
		blue:   base + "pins:blue",
		green:  base + "pins:green",
		lease:  base + "lease",
		events: base + "events",
	}
}

// Channel returns the name of the pub/sub channel on which a successful
// CompareAndSwap of scope's record publishes the new record (as JSON, the
// form the record's data field holds): what a bare subscriber listens to
// in order to see the same message the store's Watch sees.
func (s *Store) Channel(scope cache.Scope) string { return s.keysOf(scope).events }

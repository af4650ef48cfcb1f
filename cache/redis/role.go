package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
)

// errReplica is the error of a connection to a replica, made by a client
// of Open: the URL names a replica, not the primary.
var errReplica = fmt.Errorf("%w: the server replicates another: point the url at the primary", cache.ErrReadOnly)

// checkRole is the OnConnect of a client of Open for a single server or a
// Sentinel's primary: it asks the new connection's server its role (ROLE)
// and fails the connection, with errReplica, when it is a replica, so
// that every call fails with it, reads included, at once and the same
// way, rather than writes alone, which go-redis retries on READONLY until
// their deadline. Redis refusing ROLE (an ACL without it) is no failure:
// the writes will tell then.
func checkRole(ctx context.Context, cn *goredis.Conn) error {
	reply, err := cn.Do(ctx, "ROLE").Slice()
	if err != nil {
		var rerr goredis.Error
		if errors.As(err, &rerr) {
			return nil // refused or unknown: not this check's business
		}
		return err
	}
	if len(reply) > 0 && (reply[0] == "slave" || reply[0] == "replica") {
		return errReplica
	}
	return nil
}

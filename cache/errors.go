package cache

import "errors"

// Errors a [Store] returns. Test for them with [errors.Is]: backends wrap them
// with detail.
var (
	// ErrNotFound means there is no record, or no live pin, for the key.
	ErrNotFound = errors.New("cache: not found")

	// ErrConflict means a compare-and-swap lost: the stored generation was not
	// the expected one. The store returns the current record alongside it.
	ErrConflict = errors.New("cache: generation conflict")

	// ErrInvalidStrategy means a colour was not blue or green. Stores reject
	// such values on write and report them on read; they are never sent.
	ErrInvalidStrategy = errors.New("cache: invalid strategy")

	// ErrLeaseHeld means another holder has the probe lease of the scope.
	ErrLeaseHeld = errors.New("cache: probe lease held by another process")

	// ErrInvalidRecord means a record to store breaks the rules of [State]:
	// its generation does not grow, or a colour in it is invalid.
	ErrInvalidRecord = errors.New("cache: invalid record")

	// ErrAccessDenied means the store refused the credentials or the
	// permission a call needs (a wrong password, a missing ACL rule): a
	// configuration error, which waiting does not mend.
	ErrAccessDenied = errors.New("cache: access denied by the store")

	// ErrClosed means the store was closed.
	ErrClosed = errors.New("cache: store closed")

	// ErrReadOnly means the store is a read-only replica, which refuses
	// writes: its address names a replica instead of the primary, a
	// configuration error of its own. It also matches ErrAccessDenied
	// ([errors.Is]), so that code handling a refusal handles it: waiting
	// does not mend it either.
	ErrReadOnly error = readOnlyError{}
)

type readOnlyError struct{}

func (readOnlyError) Error() string { return "cache: the store is a read-only replica" }

func (readOnlyError) Is(target error) bool { return target == ErrAccessDenied }

package merchant

import "errors"

// ErrTooManyConflicts refuses a sale that would be one more open conflict of a merchant that
// already has MaxOpenConflicts waiting for the office's decision. Nothing is recorded and the
// till keeps the sale: it is sent again, with the same idempotency key, once the office has
// decided some of the merchant's conflicts.
var ErrTooManyConflicts = errors.New("too many of this merchant's conflicts wait for the office's decision: keep the sale and send it again later")

const (
	// DefaultMaxOpenConflicts is how many undecided conflicts one merchant (all of its tills
	// together) may have, unless configured otherwise (CITYCARD_MAX_OPEN_CONFLICTS).
	DefaultMaxOpenConflicts = 200
	// MaxBulkDecisions is how many conflicts one bulk decision decides at most; the rest
	// wait for the next request.
	MaxBulkDecisions = 500
)

package card

import (
	"errors"
	"strings"
	"time"
)

// ErrBatchNotFound is returned for an unknown batch id.
var ErrBatchNotFound = errors.New("batch not found")

// MaxBatchCards is the most cards one batch (and one print sheet) holds.
const MaxBatchCards = 1000

// Batch is a set of cards issued together, usually for one hotel or event, with a name the
// office can find it by ("Hotel Histria, June") to reprint it.
type Batch struct {
	Town      string // the town whose office issued it
	ID        string
	Name      string // may be empty
	Product   string // product code
	Count     int
	Lang      string // the cards' language, may be empty
	CreatedAt time.Time
}

// CleanBatchName trims a batch name and checks it as every free text is checked
// (CleanText): 1 to 100 characters, no control characters. Errors wrap ErrInvalidInput.
func CleanBatchName(name string) (string, error) { return CleanText("name", name, 100, true) }

// FoldName is the form of a name that a case-insensitive search compares.
func FoldName(s string) string { return strings.ToLower(s) }

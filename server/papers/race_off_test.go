//go:build !race

package papers

// raceSlowdown stretches the time bounds of tests; without the race detector, not at all.
const raceSlowdown = 1

//go:build race

package papers

// raceSlowdown stretches the time bounds of tests under the race detector, which slows code
// down many times (and CI runs every test with it).
const raceSlowdown = 10

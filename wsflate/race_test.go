//go:build race

package wsflate_test

// raceEnabled trims the exhaustive tests under the race detector, which
// makes compression some thirty times slower; the full matrix runs in the
// ordinary test run.
const raceEnabled = true

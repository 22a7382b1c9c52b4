//go:build !race

package wsflate_test

const raceEnabled = false

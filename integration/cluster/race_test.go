//go:build race

package cluster

// raceEnabled is true when the tests run with the race detector: the demo
// instances are then built with it too.
const raceEnabled = true

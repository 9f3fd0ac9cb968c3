package cluster

import (
	"fmt"
	"os"
	"testing"

	"github.com/chatwidget/chatwidget/integration/cluster/clustertest"
)

// demoBin is the demo binary TestMain builds, which every test runs.
var demoBin string

// TestMain builds the demo once for every test, with the race detector when
// the tests have it.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds the demo into a temporary directory, runs the tests and
// removes the directory.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cluster-demo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	demoBin, err = clustertest.BuildDemo(dir, raceEnabled)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

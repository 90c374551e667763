package cluster_test

import (
	"testing"

	"github.com/lifelinehq/lifeline/internal/leakcheck"
)

// TestMain fails the run when goroutines started by the tests outlive them.
func TestMain(m *testing.M) { leakcheck.Main(m) }

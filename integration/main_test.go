package integration

import (
	"testing"

	"github.com/lifelinehq/lifeline/internal/leakcheck"
)

// afterAll runs once the tests have: the lab (build tag integration) stops the
// processes its tests shared and writes its report there.
var afterAll []func(code int) int

// TestMain fails the run when goroutines started by the tests outlive them.
func TestMain(m *testing.M) { leakcheck.Main(m, afterAll...) }

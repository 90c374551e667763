package closecode_test

import (
	"fmt"

	"github.com/lifelinehq/lifeline/closecode"
)

// What a client does when a session ends with a code: Lifeline's own, the
// WebSocket's, or the application's.
func ExampleCode_Action() {
	for _, c := range []closecode.Code{closecode.Timeout, closecode.Expired, closecode.Normal, closecode.GoingAway, 4000, 1006} {
		fmt.Println(c, c.Action())
	}
	// Output:
	// 4408 (heartbeat timeout) reconnect
	// 4410 (session expired) reset
	// 1000 (normal) stop
	// 1001 (going away) reconnect
	// 4000 stop
	// 1006 reconnect
}

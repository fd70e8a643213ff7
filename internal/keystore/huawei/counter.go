package huawei

import (
	"maps"
	"sync"
)

// counter counts calls (what the store asked for), attempts (what the
// endpoint saw, retries included) and throttled answers, by operation.
type counter struct {
	mu        sync.Mutex
	calls     map[string]int
	attempts  map[string]int
	throttles map[string]int
}

func newCounter() *counter {
	return &counter{calls: map[string]int{}, attempts: map[string]int{}, throttles: map[string]int{}}
}

func (c *counter) call(op string)     { c.add(c.calls, op) }
func (c *counter) attempt(op string)  { c.add(c.attempts, op) }
func (c *counter) throttle(op string) { c.add(c.throttles, op) }

func (c *counter) add(m map[string]int, op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m[op]++
}

func (c *counter) snapshot(m map[string]int) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(m)
}

// Package architecture holds, as a test, the rules of keysweep's package
// layout (docs/ARCHITECTURE.md): the engine and the domain reach no cloud
// SDK, and the adapters reach the domain, never the engine.
package architecture

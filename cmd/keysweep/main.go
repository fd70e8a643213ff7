// Command keysweep is the command-line face of the keysweep engine; the
// commands are in internal/cli.
package main

import (
	"os"

	"github.com/keysweep/keysweep/internal/cli"
)

func main() { os.Exit(cli.Execute()) }

//go:build !(linux || darwin)

package main

import "os"

// terminalWidth returns 0 (unknown) where fleetbench does not ask the
// terminal: the width comes from $COLUMNS or defaults to 80.
func terminalWidth(*os.File) int { return 0 }

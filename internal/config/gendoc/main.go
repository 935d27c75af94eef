// Command gendoc writes docs/parameters.md from the parameter registry.
// Run it from the repository root: go run ./internal/config/gendoc
package main

import (
	"fmt"
	"os"

	"mailhorn/internal/config"
)

func main() {
	path := "docs/parameters.md"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := os.WriteFile(path, []byte(config.ParametersMarkdown()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %v\n", err)
		os.Exit(1)
	}
}

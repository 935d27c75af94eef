package config

import (
	"os"
	"testing"
)

// docs/parameters.md is generated from the registry; when a parameter is
// added or changed, regenerate it with: go run ./internal/config/gendoc
func TestParametersDocUpToDate(t *testing.T) {
	got, err := os.ReadFile("../../docs/parameters.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != ParametersMarkdown() {
		t.Errorf("docs/parameters.md is stale: run `go run ./internal/config/gendoc` from the repository root")
	}
}

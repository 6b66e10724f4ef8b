package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/scenarios"
)

// TestReadmeScenarioIsValid keeps the README's scenario example true.
func TestReadmeScenarioIsValid(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if !strings.HasPrefix(m[1], "name:") {
			continue // CI job examples
		}
		n++
		if _, err := scenarios.Parse("README.md", []byte(m[1])); err != nil {
			t.Errorf("README scenario example does not load:\n%v", err)
		}
	}
	if n == 0 {
		t.Fatal("no scenario example found in README.md")
	}
}

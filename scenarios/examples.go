package scenarios

import (
	"embed"
	"io/fs"
)

//go:embed examples/*.yaml examples/*.csv
var examples embed.FS

// Examples returns the shipped example scenarios (quickstart.yaml, …) as a
// file system rooted at the examples directory. An example's companion
// files (a credentials CSV it names) are called after it: NAME-*.csv
// belongs to NAME.yaml.
func Examples() fs.FS {
	sub, err := fs.Sub(examples, "examples")
	if err != nil { // unreachable: the directory is embedded
		return examples
	}
	return sub
}

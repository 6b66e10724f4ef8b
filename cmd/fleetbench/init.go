package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"
	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/scenarios"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write an example scenario to start from",
		ArgsUsage: "[FILE]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "template", Value: "quickstart", Usage: "example to copy (see --list)"},
			&cli.BoolFlag{Name: "list", Usage: "list the templates with their descriptions"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite an existing file"},
		},
		Action: func(c *cli.Context) error {
			examples := scenarios.Examples()
			if c.Bool("list") {
				names, err := fs.Glob(examples, "*.yaml")
				if err != nil {
					return cli.Exit(err.Error(), exitRunFailed)
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
				for _, n := range names {
					desc := ""
					// Only the description is read: an example may name
					// companion files that are not on disk here.
					if data, err := fs.ReadFile(examples, n); err == nil {
						var head struct {
							Description string `yaml:"description"`
						}
						if yaml.Unmarshal(data, &head) == nil {
							desc = head.Description
						}
					}
					fmt.Fprintf(tw, "%s\t%s\n", strings.TrimSuffix(n, ".yaml"), desc)
				}
				return tw.Flush()
			}
			name := c.String("template")
			if _, err := fs.Stat(examples, name+".yaml"); err != nil {
				return usageError("no template %q (fleetbench init --list shows them)", name)
			}
			dst := c.Args().First()
			if dst == "" {
				dst = name + ".yaml"
			}
			flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if c.Bool("force") {
				flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			if err := writeExample(examples, name+".yaml", dst, flag); err != nil {
				return err
			}
			// Companion files (credentials CSVs the example names) go next
			// to it, under their own names, so its references hold.
			companions, _ := fs.Glob(examples, name+"-*.csv")
			for _, comp := range companions {
				if err := writeExample(examples, comp, filepath.Join(filepath.Dir(dst), comp), flag); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "wrote %s (used by %s)\n", filepath.Join(filepath.Dir(dst), comp), dst)
			}
			fmt.Fprintf(c.App.Writer, "wrote %s — run it with: fleetbench run %s\n", dst, dst)
			return nil
		},
	}
}

// writeExample copies one embedded example file to dst, opened with flag
// (O_EXCL unless --force).
func writeExample(examples fs.FS, name, dst string, flag int) error {
	data, err := fs.ReadFile(examples, name)
	if err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
	}
	f, err := os.OpenFile(dst, flag, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return usageError("%s exists (use --force to overwrite)", dst)
	}
	if err != nil {
		return usageError("%v", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return cli.Exit(fmt.Sprintf("fleetbench: write %s: %v", dst, err), exitRunFailed)
	}
	if err := f.Close(); err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: write %s: %v", dst, err), exitRunFailed)
	}
	return nil
}

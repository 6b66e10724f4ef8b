package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

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
					if data, err := fs.ReadFile(examples, n); err == nil {
						if sc, err := scenarios.Parse(n, data); err == nil {
							desc = sc.Description
						}
					}
					fmt.Fprintf(tw, "%s\t%s\n", strings.TrimSuffix(n, ".yaml"), desc)
				}
				return tw.Flush()
			}
			name := c.String("template")
			data, err := fs.ReadFile(examples, name+".yaml")
			if err != nil {
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
			fmt.Fprintf(c.App.Writer, "wrote %s — run it with: fleetbench run %s\n", dst, dst)
			return nil
		},
	}
}

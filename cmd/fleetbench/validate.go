package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a scenario file and print what it would run",
		ArgsUsage: "FILE",
		Flags:     scenarioFlags(),
		Action: func(c *cli.Context) error {
			sc, _, err := loadScenario(c)
			if err != nil {
				return err
			}
			target := "embedded broker"
			if sc.Broker.URL != "" {
				target = sc.Broker.URL
			}
			fmt.Fprintf(c.App.Writer, "%s: ok — %q, %d devices in %d groups, %v (+%v drain), %d stages, target %s\n",
				c.Args().First(), sc.Name, sc.Total(), len(sc.Groups), sc.Duration, sc.Drain, len(sc.Stages), target)
			return nil
		},
	}
}

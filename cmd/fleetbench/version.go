package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the fleetbench version and the versions of its MQTT and actor libraries",
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			fmt.Fprintf(w, "fleetbench %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					switch d.Path {
					case "github.com/eclipse/paho.mqtt.golang", "github.com/asynkron/protoactor-go",
						"github.com/mochi-mqtt/server/v2", "github.com/HdrHistogram/hdrhistogram-go":
						fmt.Fprintf(w, "  %s %s\n", d.Path, d.Version)
					}
				}
			}
			return nil
		},
	}
}

// buildVersion returns the -ldflags version, else the module version or
// VCS revision recorded by the go command.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return version
}

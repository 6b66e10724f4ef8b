package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the build info says (see buildVersion).
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

// buildVersion returns the version this binary reports everywhere
// (version, results, the handshake of distributed runs): the -ldflags
// version, else the module version the go command recorded, else
// "devel"; then the VCS revision from the build info, "+modified" for a
// work tree with uncommitted changes, or "(revision unknown)" for a build
// without VCS information (go run, -buildvcs=false).
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi)
}

// versionOf is buildVersion for a given -ldflags version and build info
// (nil when the binary has none).
func versionOf(ldflags string, bi *debug.BuildInfo) string {
	v := ldflags
	if v == "dev" || v == "" {
		v = "devel"
		if bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	var rev string
	var modified bool
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	switch {
	case rev != "":
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified {
			rev += "+modified"
		}
		return v + " (revision " + rev + ")"
	case v == "devel":
		return v + " (revision unknown)"
	}
	return v // a released version names its revision itself
}

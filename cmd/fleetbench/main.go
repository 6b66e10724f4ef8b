// Command fleetbench load-tests MQTT brokers and IoT platforms with fleets
// of simulated devices that behave like Alibaba Cloud IoT SDK devices.
//
// Exit codes: 0 ok, 1 run failed, 2 usage or scenario error, 99 a
// threshold failed, 130 interrupted.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK          = 0
	exitRunFailed   = 1
	exitUsage       = 2
	exitThresholds  = 99
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run runs the CLI and returns the process exit code.
//
// Everything it prints goes through the command line's redaction (see
// redaction): the secrets of the arguments and, once read, of the
// scenario never reach stdout or stderr.
func run(args []string, stdout, stderr io.Writer) int {
	red := newRedaction(args)
	stdout = &redactWriter{w: stdout, r: red}
	stderr = &redactWriter{w: stderr, r: red}
	app := newApp(stdout, stderr)
	app.Metadata = map[string]any{redactionKey: red}
	// "fleetbench help [COMMAND]" is "fleetbench [COMMAND] --help".
	if len(args) > 1 && args[1] == "help" {
		args = append(append([]string{args[0]}, args[2:]...), "--help")
	}
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && app.Command(args[1]) == nil {
		fmt.Fprintf(stderr, "fleetbench: no command %q (fleetbench --help lists them)\n", args[1])
		return exitUsage
	}
	err := app.Run(interspersed(app, args))
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, escapeLines(msg))
		}
		return ec.ExitCode()
	}
	// Anything else is a usage error from flag parsing.
	fmt.Fprintf(stderr, "fleetbench: %s\n", escapeLines(err.Error()))
	return exitUsage
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "fleetbench",
		Usage:     "load-test MQTT brokers with fleets of simulated IoT devices",
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed by run, once.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		// --set values may contain commas (YAML lists, JSON templates).
		DisableSliceFlagSeparator: true,
		Commands: []*cli.Command{
			runCommand(), workerCommand(), validateCommand(), reportCommand(), compareCommand(), signCommand(), initCommand(), versionCommand(),
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cli.Exit(fmt.Sprintf("fleetbench: %v (see fleetbench %s --help)", err, c.Command.Name), exitUsage)
		},
	}
}

// usageError returns an exit-2 error.
func usageError(format string, args ...any) error {
	return cli.Exit("fleetbench: "+fmt.Sprintf(format, args...), exitUsage)
}

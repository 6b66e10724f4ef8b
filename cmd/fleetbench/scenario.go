package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/scenarios"
)

// loadScenario reads the scenario named by the first argument and applies
// --broker, --duration, --client and --set. Scenario errors exit with code 2 and
// list every problem with its file:line:col.
func loadScenario(c *cli.Context) (*scenarios.Scenario, *scenarios.Document, error) {
	return loadScenarioWith(c, nil)
}

// loadScenarioWith is loadScenario with extra --set overrides applied last.
func loadScenarioWith(c *cli.Context, extra []string) (*scenarios.Scenario, *scenarios.Document, error) {
	if c.NArg() != 1 {
		return nil, nil, usageError("%s needs exactly one scenario file (got %d arguments)", c.Command.Name, c.NArg())
	}
	doc, err := scenarios.ReadFile(c.Args().First())
	if err != nil {
		return nil, nil, scenarioError(err)
	}
	// From here on, everything printed hides the document's secrets (and
	// those the overrides below add); once the scenario is built, its own
	// redactor (computed once) takes over.
	red := redactionOf(c)
	red.use(doc.Redact)
	overrides, err := scenarioOverrides(c, extra)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range overrides {
		if o.flag != "" {
			err = doc.ApplyFlag(o.flag, o.arg)
		} else {
			err = doc.ApplySetArg(o.arg)
		}
		if err != nil {
			return nil, nil, scenarioError(err)
		}
	}
	sc, err := doc.Scenario()
	if err != nil {
		return nil, nil, scenarioError(err)
	}
	red.use(sc.Redact)
	return sc, doc, nil
}

// scenarioSets returns the overrides of --broker, --duration, --client,
// --set and extra as --set arguments (path=value), in the order they
// apply: what the nodes of a distributed run apply to the same file.
func scenarioSets(c *cli.Context, extra []string) ([]string, error) {
	overrides, err := scenarioOverrides(c, extra)
	if err != nil {
		return nil, err
	}
	sets := make([]string, len(overrides))
	for i, o := range overrides {
		sets[i] = o.arg
	}
	return sets, nil
}

// override is one scenario override from the command line: arg is
// "path=value"; flag is the flag it stands for when errors should name
// that flag rather than --set.
type override struct{ flag, arg string }

// scenarioOverrides returns the overrides of --broker, --duration,
// --client, --set and extra, in the order they apply (so --set, being
// more specific, wins over --client).
func scenarioOverrides(c *cli.Context, extra []string) ([]override, error) {
	var out []override
	if c.IsSet("broker") {
		if c.String("broker") == "" {
			return nil, usageError("--broker is empty: give a broker URL (broker.url), or omit the flag to use the embedded broker")
		}
		arg, err := brokerArg(c.String("broker"))
		if err != nil {
			return nil, err
		}
		out = append(out, override{flag: "--broker " + c.String("broker"), arg: arg})
	}
	if c.IsSet("duration") {
		out = append(out, override{flag: "--duration " + c.String("duration"), arg: "duration=" + c.String("duration")})
	}
	if c.IsSet("client") {
		v := c.String("client")
		if err := scenarios.CheckClient(v); err != nil {
			return nil, usageError("--client: %v", err)
		}
		out = append(out, override{flag: "--client " + v, arg: "devices[*].client=" + v})
	}
	for _, s := range c.StringSlice("set") {
		out = append(out, override{arg: s})
	}
	for _, s := range extra {
		out = append(out, override{arg: s})
	}
	return out, nil
}

// scenarioError formats scenario errors, one per line, with the source
// line where known, and exits with code 2.
func scenarioError(err error) error {
	var list scenarios.ErrorList
	var one *scenarios.Error
	var b strings.Builder
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			writeScenarioError(&b, e)
		}
	case errors.As(err, &one):
		writeScenarioError(&b, one)
	default:
		fmt.Fprintf(&b, "%v\n", err)
	}
	return cli.Exit(strings.TrimRight(b.String(), "\n"), exitUsage)
}

func writeScenarioError(b *strings.Builder, e *scenarios.Error) {
	fmt.Fprintf(b, "%s\n", e.Error())
	if e.Source != "" && e.Line > 0 {
		fmt.Fprintf(b, "  %4d | %s\n", e.Line, e.Source)
		if e.Col > 0 {
			fmt.Fprintf(b, "       | %s^\n", strings.Repeat(" ", e.Col-1))
		}
	}
}

// scenarioFlags are the flags of every command that loads a scenario.
func scenarioFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "set", Usage: "override a scenario field, e.g. --set devices[0].count=500 (repeatable)"},
		&cli.StringFlag{Name: "broker", Usage: "broker URL (mqtt://host:port, mqtts://…, ws://host:port/mqtt, wss://…), or several separated by commas (a cluster's nodes: " +
			"devices are spread over them); overrides broker.url; absent = embedded broker"},
		&cli.StringFlag{Name: "duration", Usage: "override the scenario duration, e.g. 10m"},
		&cli.StringFlag{Name: "client", Usage: "MQTT client of every device group: native (engine/iot's session) or paho (paho.mqtt.golang, MQTT 3.1.1 only); " +
			"sets devices[*].client, before --set (so --set devices[g].client=… still wins)"},
	}
}

// brokerArg is the broker.url override of --broker: one URL as it is, a
// comma-separated list as a list of URLs.
func brokerArg(v string) (string, error) {
	if !strings.Contains(v, ",") {
		return "broker.url=" + v, nil
	}
	parts := strings.Split(v, ",")
	quoted := make([]string, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return "", usageError("--broker %s: URL %d of %d is empty; separate the URLs with single commas", v, i+1, len(parts))
		}
		quoted[i] = strconv.Quote(p)
	}
	return "broker.url=[" + strings.Join(quoted, ", ") + "]", nil
}

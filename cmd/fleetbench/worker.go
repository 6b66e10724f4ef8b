package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/actors/cluster"
	"github.com/fleetbench/fleetbench/scenarios"
)

func workerCommand() *cli.Command {
	return &cli.Command{
		Name:  "worker",
		Usage: "serve as a worker node of distributed runs (fleetbench run --workers)",
		Description: "A worker waits for coordinators (fleetbench run --workers HOST:PORT) and runs its share of\n" +
			"their fleets, one run at a time, until it is stopped. Beyond loopback it needs a shared\n" +
			"token (--token-file, the same file on every node); --tls-* adds mutual TLS.",
		Flags: append(remoteFlags(),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:7946", Usage: "HOST:PORT to listen on (0.0.0.0:PORT for every interface, with --advertise)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error (logs go to stderr)"},
		),
		Action: workerAction,
	}
}

// remoteFlags are the transport flags shared by run --workers and worker.
func remoteFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "advertise", Usage: "HOST:PORT other nodes reach this one at, when it differs from --listen"},
		&cli.StringFlag{Name: "token-file", Usage: "file holding the shared token every node must present (required beyond loopback)"},
		&cli.StringFlag{Name: "tls-cert", Usage: "this node's certificate (PEM) for mutual TLS between nodes"},
		&cli.StringFlag{Name: "tls-key", Usage: "the key of --tls-cert"},
		&cli.StringFlag{Name: "tls-ca", Usage: "the CA that signed every node's certificate"},
	}
}

// remoteOptions reads the transport flags.
func remoteOptions(c *cli.Context) (cluster.RemoteOptions, error) {
	o := cluster.RemoteOptions{Listen: c.String("listen"), Advertise: c.String("advertise")}
	if path := c.String("token-file"); path != "" {
		b, err := scenarios.ReadFileLimited(path, scenarios.MaxTokenFileSize)
		if err != nil {
			return o, usageError("--token-file: %v", err)
		}
		if o.Token = strings.TrimSpace(string(b)); o.Token == "" {
			return o, usageError("--token-file %s is empty", path)
		}
		redactionOf(c).addValues(o.Token)
	}
	cert, key, ca := c.String("tls-cert"), c.String("tls-key"), c.String("tls-ca")
	switch {
	case cert == "" && key == "" && ca == "":
	case cert == "" || key == "" || ca == "":
		return o, usageError("mutual TLS needs --tls-cert, --tls-key and --tls-ca together")
	default:
		o.TLS = &cluster.RemoteTLS{CertFile: cert, KeyFile: key, CAFile: ca}
	}
	return o, nil
}

func workerAction(c *cli.Context) error {
	if c.NArg() != 0 {
		return usageError("worker takes no arguments (got %q)", c.Args().Slice())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return usageError("--log-level: %v", err)
	}
	ro, err := remoteOptions(c)
	if err != nil {
		return err
	}
	stderr := &lockedWriter{w: c.App.ErrWriter}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// A worker writes no result: Ctrl-C stops it, and the coordinator of a
	// run it is part of declares it lost.
	ctx, abort, stop := interruptible(c.Context, stderr,
		"fleetbench worker: interrupted — stopping (a run this worker is part of loses this node; press Ctrl-C again to stop at once)")
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-abort: // a second Ctrl-C while the worker shuts down
			fmt.Fprintln(stderr, "fleetbench worker: stopped at once")
			os.Exit(exitInterrupted)
		case <-finished:
		}
	}()
	err = cluster.ServeWorker(ctx, cluster.WorkerOptions{
		Remote: ro, Logger: log, Version: buildVersion(), Secrets: redactionOf(c).addValues,
		Ready: func(addr string) {
			fmt.Fprintf(c.App.Writer, "fleetbench worker listening on %s (token: %t, tls: %t); Ctrl-C stops it\n", addr, ro.Token != "", ro.TLS != nil)
		},
	})
	if err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitUsage)
	}
	return nil
}

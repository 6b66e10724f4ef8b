package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/engine/devsign"
)

func signCommand() *cli.Command {
	return &cli.Command{
		Name:  "sign",
		Usage: "print the MQTT credentials a device computes with IOT_Sign_MQTT",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "product-key", Required: true, Usage: "the device's ProductKey, e.g. a1X2bEnP82z"},
			&cli.StringFlag{Name: "device-name", Required: true, Usage: "the device's DeviceName"},
			&cli.StringFlag{Name: "device-secret", Required: true, EnvVars: []string{"FLEETBENCH_DEVICE_SECRET"},
				Usage: "the device's DeviceSecret (better from the environment than on the command line)"},
			&cli.StringFlag{Name: "region", Value: "cn-shanghai", Usage: "cn-shanghai, ap-southeast-1, ap-northeast-1, us-west-1, eu-central-1, or custom"},
			&cli.StringFlag{Name: "custom-domain", Usage: "host for --region custom"},
			&cli.BoolFlag{Name: "tls", Value: true, Usage: "securemode 2 (TLS); --tls=false gives securemode 3 (TCP)"},
			&cli.StringFlag{Name: "sdk-version", Value: devsign.SDK320, Usage: "3.2.0, 3.0.1 or 4.x (the Link SDK 4.x client id)"},
			&cli.StringFlag{Name: "customize-info", Usage: "extra k=v pairs appended to the client id (authtype=id2 gives securemode 8 with 3.x)"},
		},
		Action: func(c *cli.Context) error {
			region, err := devsign.ParseRegion(c.String("region"))
			if err != nil {
				return usageError("--region: %v", err)
			}
			creds, err := devsign.Sign(region, devsign.Meta{
				ProductKey: c.String("product-key"), DeviceName: c.String("device-name"), DeviceSecret: c.String("device-secret"),
			}, devsign.Options{
				CustomDomain: c.String("custom-domain"), PlainTCP: !c.Bool("tls"),
				SDKVersion: c.String("sdk-version"), CustomizeInfo: c.String("customize-info"),
			})
			if err != nil {
				return usageError("sign: %v", err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "host:      %s\nport:      %d\nclient_id: %s\nusername:  %s\npassword:  %s\n",
				creds.Host, creds.Port, creds.ClientID, creds.Username, creds.Password)
			return nil
		},
	}
}

package iot

import (
	"log"
	"os"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func init() {
	if os.Getenv("PAHO_DEBUG") != "" {
		paho.ERROR = log.New(os.Stderr, "[paho-err] ", 0)
		paho.WARN = log.New(os.Stderr, "[paho-warn] ", 0)
		paho.CRITICAL = log.New(os.Stderr, "[paho-crit] ", 0)
		paho.DEBUG = log.New(os.Stderr, "[paho-dbg] ", 0)
	}
}

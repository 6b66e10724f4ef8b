package iot

import "testing"

func embeddedTargets(t *testing.T) []target { return nil }

func embeddedRestartables(t *testing.T) []restartable { return nil }

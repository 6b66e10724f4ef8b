package main

import (
	"strings"
	"testing"
)

// validate lists every broker endpoint with the devices it would get.
func TestValidateListsEndpoints(t *testing.T) {
	sc := writeFile(t, "eps.yaml", `name: eps
duration: 10s
broker:
  url: [mqtt://127.0.0.1:1883, "mqtt://127.0.0.1:1884", mqtt://127.0.0.1:1885]
  weights: [2, 1, 1]
  failover: next
devices:
  - name: d
    count: 10
`)
	code, stdout, stderr := fb(t, "validate", sc)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"broker.url[0] mqtt://127.0.0.1:1883: 6 devices",
		"broker.url[1] mqtt://127.0.0.1:1884: 2 devices",
		"broker.url[2] mqtt://127.0.0.1:1885: 2 devices",
		"failover: next",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, stdout)
		}
	}
}

// The password of a broker URL in a list is a secret too: the error that
// refuses it (credentials belong in the device groups) quotes the line with
// the password hidden.
func TestBrokerListPasswordHidden(t *testing.T) {
	sc := writeFile(t, "eps.yaml", `name: eps
duration: 10s
broker:
  url: [mqtt://127.0.0.1:1883, "mqtt://u:hidden-pw-31@127.0.0.1:1884"]
devices:
  - name: d
    count: 10
`)
	code, stdout, stderr := fb(t, "validate", sc)
	if code != exitUsage || !strings.Contains(stderr, "broker.url[1]") || !strings.Contains(stderr, "mqtt://u:***@127.0.0.1:1884") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "hidden-pw-31") {
		t.Errorf("the URL password is printed:\n%s%s", stdout, stderr)
	}
}

package scenarios

import (
	"strings"
	"testing"
)

func TestExpandAddresses(t *testing.T) {
	got, err := ExpandAddresses("127.0.0.1-127.0.0.8")
	if err != nil || len(got) != 8 || got[0] != "127.0.0.1" || got[7] != "127.0.0.8" {
		t.Fatalf("range: %v %v", got, err)
	}
	if got, err := ExpandAddresses("::1"); err != nil || got[0] != "::1" {
		t.Fatalf("single: %v %v", got, err)
	}
	for _, bad := range []string{"x", "127.0.0.8-127.0.0.1", "127.0.0.1-::1", "10.0.0.0-10.1.0.0"} {
		if _, err := ExpandAddresses(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSourceAddressesScenario(t *testing.T) {
	text := "name: t\nduration: 1s\nbroker:\n  source_addresses: [127.0.0.1-127.0.0.3, 127.0.0.9]\ndevices:\n  - name: d\n    count: 1\n"
	sc, err := Parse("s.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sc.Broker.SourceAddresses, ",") != "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.9" {
		t.Fatalf("addresses %v", sc.Broker.SourceAddresses)
	}
	_, err = Parse("s.yaml", []byte(strings.Replace(text, "127.0.0.9", "nine", 1)))
	if err == nil || !strings.Contains(err.Error(), "s.yaml:4:43: broker.source_addresses[1]") {
		t.Fatalf("bad address: %v", err)
	}
}

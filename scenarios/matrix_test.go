package scenarios

import (
	"strings"
	"testing"
)

func TestMatrixSets(t *testing.T) {
	sc, err := Parse("m.yaml", []byte(`name: m
duration: 1s
devices:
  - name: a
    count: 1
    subscribe: [{topic: /x, qos: 1}]
    publish: [{topic: /x, qos: 1, interval: 1s}, {topic: /y, qos: 0, interval: 1s}]
  - name: b
    count: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"qos":              "devices[0].publish[0].qos=2 devices[0].publish[1].qos=2 devices[0].subscribe[0].qos=2",
		"publish.qos":      "devices[0].publish[0].qos=2 devices[0].publish[1].qos=2",
		"subscribe.qos":    "devices[0].subscribe[0].qos=2",
		"devices[1].count": "devices[1].count=2",
	} {
		if got := strings.Join(sc.MatrixSets(key, "2"), " "); got != want {
			t.Errorf("MatrixSets(%q) = %q, want %q", key, got, want)
		}
	}
	empty, _ := Parse("e.yaml", []byte("name: e\nduration: 1s\ndevices: [{name: a, count: 1}]\n"))
	if got := empty.MatrixSets("qos", "1"); got != nil {
		t.Errorf("no entries: %v", got)
	}
}

package scenarios

import (
	"strings"
	"testing"
)

func TestRedactedSource(t *testing.T) {
	src := `name: t
devices:
  - name: d
    device_secret: ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe   # the demo secret
    password: "hunter2"
  - {name: e, password: 's3cr3t', count: 1}
  - name: f
    device_secret: ${env:FLEET_SECRET}
    device_name: password-${index}
`
	doc, err := ParseDocument("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := doc.RedactedSource()
	for _, secret := range []string{"ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe", "hunter2", "s3cr3t"} {
		if strings.Contains(got, secret) {
			t.Errorf("secret %q survives redaction:\n%s", secret, got)
		}
	}
	for _, kept := range []string{"${env:FLEET_SECRET}", "# the demo secret", "device_name: password-${index}", "count: 1}"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q lost by redaction:\n%s", kept, got)
		}
	}
}

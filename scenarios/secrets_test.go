package scenarios

import (
	"os"
	"strings"
	"testing"
)

// TestSecretsRedactedByValue plants distinct secrets in every form a
// scenario can hold them and checks that none survives in RedactedSource,
// in error messages and excerpts, or in Redact of a command line.
func TestSecretsRedactedByValue(t *testing.T) {
	src := `name: s
duration: 1s
broker:
  url: mqtt://user:Urlpass9@broker.example:1883
x-creds: &creds
  password: Anch0rSecret
devices:
  - name: a
    count: 1
    password: |-
      Bl0ckLineOne
      Bl0ckLineTwo
  - name: b
    count: 1
    password: >-
      F0ldedOne
      F0ldedTwo
  - name: c
    count: 1
    "password": Qu0tedKey
  - name: d
    count: 1
    <<: *creds
  - {name: e, count: 1,
     password: Fl0wMulti}
  - name: f
    count: 1
    password: "Comma,Hash#Tail"
  - name: g
    count: 1
    password: ${env:PW}
  - name: h
    count: 1
    password: [ListTyp3Secret]
  - name: i
    count: 1
    pasword: Typ0dKeySecret
  - name: j
    count: 1
    password: "esc\x41ped"
`
	secrets := []string{"Urlpass9", "Anch0rSecret", "Bl0ckLineOne", "Bl0ckLineTwo", "F0ldedOne", "F0ldedTwo",
		"Qu0tedKey", "Fl0wMulti", "Comma,Hash#Tail", "Hash#Tail", "EnvS3cretValue", "ListTyp3Secret", "Typ0dKeySecret",
		"SetS3cret", "SetTyp0Secret", "escAped", `esc\x41ped`}
	doc, err := ParseDocument("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	doc.Env = func(n string) (string, bool) { return "EnvS3cretValue", n == "PW" }
	var outputs []string
	// --set in the = form, and a typo with a secret value.
	if err := doc.ApplySetArg("devices[0].password=SetS3cret"); err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySetArg("devices[0].passwrd=SetTyp0Secret"); err == nil {
		t.Fatal("typo accepted")
	} else {
		outputs = append(outputs, err.Error())
	}
	outputs = append(outputs, doc.RedactedSource(),
		doc.Redact("fleetbench run --set=devices[0].password=SetS3cret --set devices[0].passwrd=SetTyp0Secret s.yaml EnvS3cretValue"))
	_, err = doc.Scenario()
	if err == nil {
		t.Fatal("scenario with errors accepted")
	}
	for _, e := range Errors(err) {
		outputs = append(outputs, e.Error(), e.Excerpt())
	}
	all := strings.Join(outputs, "\n")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q leaks", s)
		}
	}
	if t.Failed() {
		t.Log(all)
	}
	for _, kept := range []string{"${env:PW}", "broker.example", "name: e"} {
		if !strings.Contains(doc.RedactedSource(), kept) {
			t.Errorf("%q lost by redaction", kept)
		}
	}
	// The errors still name what is wrong.
	for _, want := range []string{"credentials in the broker URL are not used", `unknown field "pasword"`, "want a string, got a list"} {
		if !strings.Contains(all, want) {
			t.Errorf("no error %q in\n%s", want, all)
		}
	}
}

// TestCredentialsSecretsRedacted: secrets of a credentials file are
// registered after Scenario, and a bad one is never echoed.
func TestCredentialsSecretsRedacted(t *testing.T) {
	dir := t.TempDir()
	csv := "ProductKey,DeviceName,DeviceSecret\na1ProdKey01,dev-1,CsvSecretValue0001\na1ProdKey01,dev-2,L0ngSecretL0ngSecretL0ngSecretL0ngSecretL0ngSecretL0ngSecretL0ngSecret\n"
	path := dir + "/c.csv"
	writeFile(t, path, csv)
	src := "duration: 1s\ndevices: [{name: g, count: 1, credentials_file: c.csv}]\n"
	_, err := Parse(dir+"/s.yaml", []byte(src))
	if err == nil || strings.Contains(err.Error(), "L0ngSecret") {
		t.Fatalf("bad secret echoed or accepted: %v", err)
	}
	writeFile(t, path, csv[:strings.LastIndexByte(csv[:len(csv)-1], '\n')+1])
	doc, err := ParseDocument(dir+"/s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []interface{ Redact(string) string }{doc, sc} {
		if got := r.Redact("secret=CsvSecretValue0001;"); got != "secret=***;" {
			t.Errorf("Redact = %q", got)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

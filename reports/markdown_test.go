package reports

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteMarkdownGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteMarkdown(&b, tc.res, tc.verdict); err != nil {
				t.Fatal(err)
			}
			golden(t, "markdown/"+tc.name+".md", b.Bytes())
		})
	}
}

func TestWriteMarkdownEscapes(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 3, devices: 10, nodes: true})
	res.Scenario.Name = "<script>alert(1)</script> | *bold* [link](javascript:x)"
	res.Scenario.File = "a`b|c.yaml"
	res.Nodes[1].Name = res.Scenario.Name
	res.Nodes[1].Lost, res.Nodes[1].LostReason = true, res.Scenario.Name
	var b bytes.Buffer
	if err := WriteMarkdown(&b, res, Verdict{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", "[link](", "*bold*"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown contains unescaped %q:\n%s", bad, out)
		}
	}
	const escaped = "&lt;script&gt;alert(1)&lt;/script&gt; \\| \\*bold\\* \\[link\\](javascript:x)"
	if !strings.Contains(out, escaped) {
		t.Errorf("scenario name not escaped as expected:\n%s", out)
	}
	// Scenario name in the title; node name in the verdict's reason, the
	// warning and the table; reason in the verdict's reason, the warning
	// and the table.
	if n := strings.Count(out, escaped); n != 7 {
		t.Errorf("the escaped name appears %d times, want 7:\n%s", n, out)
	}
	if !strings.Contains(out, "``a`b\\|c.yaml``") {
		t.Errorf("scenario file not in a safe code span:\n%s", out)
	}
}

func TestMarkdownHasNoEmoji(t *testing.T) {
	t.Parallel()
	// The verdict symbols are text symbols (✔ U+2714, ✘ U+2718), never
	// emoji presentation selectors or pictographs.
	for _, tc := range goldenCases(t) {
		var b bytes.Buffer
		if err := WriteMarkdown(&b, tc.res, tc.verdict); err != nil {
			t.Fatal(err)
		}
		for _, r := range b.String() {
			if r == 0xFE0F || (r >= 0x1F300 && r <= 0x1FAFF) || r == 0x2705 || r == 0x274C {
				t.Errorf("%s: emoji %U in markdown", tc.name, r)
			}
		}
	}
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestLiveDisplayInTmux runs a short scenario in a real terminal (a tmux
// pane of 80 and of 200 columns) and reads the screen afterwards: one
// progress line, as wide as the pane at most (so it never wrapped and left
// stale copies behind), and the summary starting on a line of its own.
func TestLiveDisplayInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios in tmux")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("FLEETBENCH_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux not found and FLEETBENCH_REQUIRE_TMUX=1")
		}
		t.Skip("tmux not installed (apt-get install tmux)")
	}
	bin := buildBinary(t)
	scenario := writeFile(t, "tty.yaml", `name: tty
duration: 4s
drain: 1s
devices:
  - name: d
    count: 20
    connect: { rate: 100/s }
    subscribe:
      - topic: tty/${deviceName}
        qos: 1
    publish:
      - topic: tty/${deviceName}
        qos: 1
        rate: 5/s
`)
	for _, width := range []int{80, 200} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "tmux.sock")
			session := "fleetbench"
			command := fmt.Sprintf("%s run %s --out %s; echo EXIT=$?; sleep 600", bin, scenario, filepath.Join(dir, "out"))
			start := exec.Command(tmux, "-S", sock, "-f", "/dev/null", "new-session", "-d", "-s", session,
				"-x", fmt.Sprint(width), "-y", "50", command)
			start.Env = append(os.Environ(), "TERM=xterm-256color")
			if out, err := start.CombinedOutput(); err != nil {
				t.Fatalf("tmux new-session: %v\n%s", err, out)
			}
			t.Cleanup(func() { exec.Command(tmux, "-S", sock, "kill-server").Run() })
			var screen string
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("screen:\n%s", screen)
				}
			})
			waitFor(t, 60*time.Second, func() bool {
				out, err := exec.Command(tmux, "-S", sock, "capture-pane", "-p", "-t", session).Output()
				if err != nil {
					t.Fatalf("tmux capture-pane: %v", err)
				}
				screen = string(out)
				return strings.Contains(screen, "EXIT=")
			}, "the run to end in the tmux pane")
			if !strings.Contains(screen, "EXIT=0") {
				t.Fatalf("run failed; screen:\n%s", screen)
			}
			lines := strings.Split(screen, "\n")
			progress := -1
			for i, l := range lines {
				if n := utf8.RuneCountInString(l); n > width {
					t.Errorf("line %d is %d columns wide in a %d-column pane: %q", i, n, width, l)
				}
				if strings.Contains(l, "devices ") && strings.Contains(l, "pub ") {
					if progress >= 0 {
						t.Errorf("more than one progress line (%d and %d); screen:\n%s", progress, i, screen)
					}
					progress = i
				}
			}
			if progress < 0 {
				t.Fatalf("no progress line; screen:\n%s", screen)
			}
			if p := lines[progress]; strings.Contains(p, "fleetbench") || strings.Contains(p, "result:") {
				t.Errorf("the progress line is not on a line of its own: %q", p)
			}
			if progress+1 >= len(lines) || !strings.HasPrefix(lines[progress+1], "fleetbench  tty") {
				t.Errorf("the summary does not start on the line after the progress line; screen:\n%s", screen)
			}
			if width >= 200 && !strings.Contains(lines[progress], "errors 0") {
				t.Errorf("at %d columns the progress line should be whole: %q", width, lines[progress])
			}
			t.Logf("%d columns: %q", width, lines[progress])
		})
	}
}

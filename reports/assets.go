package reports

import (
	"embed"
	"fmt"
	"html/template"
	"sync"
)

// echartsJS is Apache ECharts, embedded so that reports work offline. See
// assets/README.md for its version, origin and licence.
//
//go:embed assets/echarts.min.js
var echartsJS string

// EChartsVersion is the version of the embedded Apache ECharts.
const EChartsVersion = "5.6.0"

//go:embed templates
var templateFS embed.FS

// pageTemplates parses the HTML templates once, on first use.
var pageTemplates = sync.OnceValues(func() (*template.Template, error) {
	funcs := template.FuncMap{"add": func(a, b int) int { return a + b }}
	t, err := template.New("pages").Funcs(funcs).ParseFS(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("reports: parse templates: %w", err)
	}
	return t, nil
})

// pageAssets are the static parts every page inlines.
type pageAssets struct {
	CSS            template.CSS
	EChartsJS      template.JS
	AppJS          template.JS
	EChartsVersion string
}

var loadAssets = sync.OnceValues(func() (pageAssets, error) {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return pageAssets{}, fmt.Errorf("reports: read style: %w", err)
	}
	js, err := templateFS.ReadFile("templates/charts.js")
	if err != nil {
		return pageAssets{}, fmt.Errorf("reports: read chart script: %w", err)
	}
	// The embedded files are ours and trusted: they are inlined verbatim.
	return pageAssets{
		CSS:            template.CSS(css),
		EChartsJS:      template.JS(echartsJS),
		AppJS:          template.JS(js),
		EChartsVersion: EChartsVersion,
	}, nil
})

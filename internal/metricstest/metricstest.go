// Package metricstest scrapes Prometheus endpoints in tests: it reads the text exposition
// format the way Prometheus does and looks series up by name and labels. Use it only from
// _test.go files.
package metricstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// Families are scraped metric families by name.
type Families map[string]*dto.MetricFamily

// ScrapeURL GETs url (a /metrics endpoint) and parses the answer.
func ScrapeURL(t testing.TB, url string) Families {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	// Ask for the text format, as a plain scrape does.
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	return parse(t, res.Body)
}

// ScrapeRegistry serves g as the hangar commands do and parses the answer.
func ScrapeRegistry(t testing.TB, g prometheus.Gatherer) Families {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return parse(t, rec.Body)
}

func parse(t testing.TB, r io.Reader) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	require.NoError(t, err)
	return fams
}

// Find returns the series of family name whose labels include labels (nil when none).
func (f Families) Find(name string, labels map[string]string) *dto.Metric {
	mf := f[name]
	if mf == nil {
		return nil
	}
	for _, m := range mf.GetMetric() {
		if matches(m, labels) {
			return m
		}
	}
	return nil
}

// Value returns the value of the series of name with labels: a counter's or gauge's value, a
// histogram's sample count. It fails the test when there is no such series.
func (f Families) Value(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	m := f.Find(name, labels)
	require.NotNil(t, m, "no series %s%v; families: %v", name, labels, f.names())
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	t.Fatalf("series %s%v has no value", name, labels)
	return 0
}

// Has reports whether family name exists (with at least its HELP and TYPE lines).
func (f Families) Has(name string) bool { _, ok := f[name]; return ok }

func (f Families) names() []string {
	out := make([]string, 0, len(f))
	for n := range f {
		out = append(out, n)
	}
	return out
}

func matches(m *dto.Metric, labels map[string]string) bool {
	have := map[string]string{}
	for _, lp := range m.GetLabel() {
		have[lp.GetName()] = lp.GetValue()
	}
	for k, v := range labels {
		if have[k] != v {
			return false
		}
	}
	return true
}

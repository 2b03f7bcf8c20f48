// Package metrics exposes Pier's Prometheus metrics: uploads and rejected
// uploads by reason, publishes and their duration by format, packages and
// bytes per target, mirror sync lag and failures, HTTP requests by route and
// status, requests refused because the disk is full, and signing
// operations. It implements repo.Observer; cmd wires it into the service,
// the HTTP server and the signer.
//
// /metrics needs no token, so it names no private target: their packages
// and bytes are summed into one series labelled target="private".
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/mirror"
)

// Metrics holds Pier's collectors in their own registry.
type Metrics struct {
	reg      *prometheus.Registry
	uploads  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	pubs     *prometheus.CounterVec
	pubDur   *prometheus.HistogramVec
	requests *prometheus.CounterVec
	signs    *prometheus.CounterVec
	full     prometheus.Counter
	inflight prometheus.Gauge
}

var _ repo.Observer = (*Metrics)(nil)

// New returns the metrics, registered with Go and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.uploads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pier_uploads_total",
		Help: "Accepted uploads by format and result (created or unchanged)."}, []string{"format", "result"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pier_uploads_rejected_total",
		Help: "Rejected uploads by format and reason."}, []string{"format", "reason"})
	m.pubs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pier_publishes_total",
		Help: "Publishes by format and result (ok or error)."}, []string{"format", "result"})
	m.pubDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pier_publish_duration_seconds",
		Help: "Duration of publishes by format.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"format"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pier_http_requests_total",
		Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	m.signs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pier_signing_operations_total",
		Help: "Signatures made, by kind (clearsign, detach)."}, []string{"kind"})
	m.full = prometheus.NewCounter(prometheus.CounterOpts{Name: "pier_storage_full_total",
		Help: "Requests refused (507) because the disk was full."})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "pier_uploads_in_progress",
		Help: "Uploads being received now (each holds an upload slot of its token and its client address)."})
	m.reg.MustRegister(m.uploads, m.rejected, m.pubs, m.pubDur, m.requests, m.signs, m.full, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ClientFault is implemented by errors a client caused by going away or
// by sending too slowly; ClientFault returns the reason ("aborted",
// "timeout").
type ClientFault interface{ ClientFault() string }

// Reason names why an upload was rejected, for the reason label.
func Reason(err error) string {
	var cf ClientFault
	switch {
	case errors.As(err, &cf):
		return cf.ClientFault()
	case errors.Is(err, context.Canceled):
		return "aborted"
	case errors.Is(err, syscall.ENOSPC):
		return "disk_full"
	case errors.Is(err, repo.ErrBadPackage):
		return "bad_package"
	case errors.Is(err, repo.ErrConflict):
		return "conflict"
	case errors.Is(err, repo.ErrTooLarge):
		return "too_large"
	case errors.Is(err, repo.ErrInvalid):
		return "invalid"
	default:
		return "error"
	}
}

// Ingested implements repo.Observer.
func (m *Metrics) Ingested(t repo.Target, format string, created bool, err error) {
	switch {
	case err != nil:
		m.rejected.WithLabelValues(format, Reason(err)).Inc()
	case created:
		m.uploads.WithLabelValues(format, "created").Inc()
	default:
		m.uploads.WithLabelValues(format, "unchanged").Inc()
	}
}

// Published implements repo.Observer.
func (m *Metrics) Published(t repo.Target, format string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.pubs.WithLabelValues(format, result).Inc()
	m.pubDur.WithLabelValues(format).Observe(d.Seconds())
}

// Request counts one HTTP request by its route template and status.
func (m *Metrics) Request(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// UploadStarted counts an upload in progress until the function it returns
// is called.
func (m *Metrics) UploadStarted() (done func()) {
	m.inflight.Inc()
	return m.inflight.Dec
}

// StorageFull counts one request refused because the disk was full.
func (m *Metrics) StorageFull() { m.full.Inc() }

// Signed counts one signature of kind.
func (m *Metrics) Signed(kind string) { m.signs.WithLabelValues(kind).Inc() }

// PrivateLabel is the target label under which the gauges sum every
// private target.
const PrivateLabel = "private"

// WatchTargets exports packages, bytes and the current generation per
// target, read at scrape time. Targets for which private reports true are
// summed into one series of packages and bytes labelled
// target="private", format="" (no generation), so that the unauthenticated
// /metrics names none of them; private may change between scrapes
// (SIGHUP).
func (m *Metrics) WatchTargets(list func() ([]repo.TargetInfo, error), private func(repo.Target) bool) {
	m.reg.MustRegister(&targetCollector{list: list, private: private,
		pkgs:  prometheus.NewDesc("pier_target_packages", "Packages in a target (private targets summed as target=\"private\").", []string{"target", "format"}, nil),
		bytes: prometheus.NewDesc("pier_target_bytes", "Bytes of the packages in a target (private targets summed as target=\"private\").", []string{"target", "format"}, nil),
		gen:   prometheus.NewDesc("pier_target_generation", "Current generation of a public target.", []string{"target", "format"}, nil),
		state: prometheus.NewDesc("pier_targets_by_publish_state", "Targets by publish state: published, pending (an acknowledged upload not published yet), failed (the last publish failed and is being retried), empty. Counts only: no target is named.", []string{"state"}, nil)})
}

type targetCollector struct {
	list                    func() ([]repo.TargetInfo, error)
	private                 func(repo.Target) bool
	pkgs, bytes, gen, state *prometheus.Desc
}

func (c *targetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pkgs
	ch <- c.bytes
	ch <- c.gen
	ch <- c.state
}

func (c *targetCollector) Collect(ch chan<- prometheus.Metric) {
	ts, err := c.list()
	if err != nil {
		return
	}
	var privPkgs, privBytes int64
	anyPrivate := false
	states := map[string]int{repo.StatePublished: 0, repo.StatePending: 0, repo.StateFailed: 0, repo.StateEmpty: 0}
	for _, t := range ts {
		states[t.PublishState()]++
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(n), st)
	}
	for _, t := range ts {
		if c.private != nil && c.private(t.Target) {
			anyPrivate = true
			privPkgs += t.Packages
			privBytes += t.Bytes
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pkgs, prometheus.GaugeValue, float64(t.Packages), t.String(), t.Format)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(t.Bytes), t.String(), t.Format)
		if t.Current != nil {
			ch <- prometheus.MustNewConstMetric(c.gen, prometheus.GaugeValue, float64(t.Current.Seq), t.String(), t.Format)
		}
	}
	if anyPrivate {
		ch <- prometheus.MustNewConstMetric(c.pkgs, prometheus.GaugeValue, float64(privPkgs), PrivateLabel, "")
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(privBytes), PrivateLabel, "")
	}
}

// WatchMirrors exports each mirror's sync lag (seconds since its last
// successful sync) and consecutive failures, read at scrape time.
func (m *Metrics) WatchMirrors(status func() []mirror.Status) {
	m.reg.MustRegister(&mirrorCollector{status: status,
		lag:  prometheus.NewDesc("pier_mirror_sync_lag_seconds", "Seconds since the mirror's last successful sync.", []string{"mirror"}, nil),
		fail: prometheus.NewDesc("pier_mirror_sync_failures", "Consecutive failed syncs of the mirror.", []string{"mirror"}, nil)})
}

type mirrorCollector struct {
	status    func() []mirror.Status
	lag, fail *prometheus.Desc
}

func (c *mirrorCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.lag; ch <- c.fail }

func (c *mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		if !s.LastOK.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, time.Since(s.LastOK).Seconds(), s.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.fail, prometheus.GaugeValue, float64(s.Failures), s.Name)
	}
}

// Signer counts the signatures the wrapped signer makes.
type Signer struct {
	repo.Signer
	M *Metrics
}

// ClearSign implements repo.Signer.
func (s Signer) ClearSign(msg []byte) ([]byte, error) {
	s.M.Signed("clearsign")
	return s.Signer.ClearSign(msg)
}

// DetachSign implements repo.Signer.
func (s Signer) DetachSign(msg []byte) ([]byte, error) {
	s.M.Signed("detach")
	return s.Signer.DetachSign(msg)
}

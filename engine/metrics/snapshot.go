package metrics

import (
	"fmt"
	"math"
	"time"
)

// Snapshot is the state of one node's Recorder (or the merge of several) at
// one moment. It is plain data: JSON-encodable, independent of the Recorder,
// and safe to keep.
type Snapshot struct {
	// Began is when the Recorder was created (earliest over merged nodes).
	Began time.Time `json:"began"`
	// Start is when the interval began: the previous reset, or Began.
	Start time.Time `json:"start"`
	// Taken is when the snapshot was taken (latest over merged nodes).
	Taken time.Time `json:"taken"`
	// Counts holds every counter since Began.
	Counts Counts `json:"counts"`
	// Delta holds the change of every counter during the interval (for the
	// Connected gauge, the net change).
	Delta Counts `json:"delta"`
	// Interval holds the latencies recorded during the interval.
	Interval Latencies `json:"interval"`
	// Total holds the latencies recorded since Began.
	Total Latencies `json:"total"`
	// FirstPublish and LastPublish are the intended times of the first
	// and last publish since Began (durations since the run's epoch, see
	// Recorder.NotePublish); Publishing is false when nothing was
	// published.
	FirstPublish time.Duration `json:"first_publish,omitempty"`
	LastPublish  time.Duration `json:"last_publish,omitempty"`
	Publishing   bool          `json:"publishing,omitempty"`
}

// Clone returns an independent copy of s.
func (s *Snapshot) Clone() Snapshot {
	c := *s
	c.Interval = s.Interval.Clone()
	c.Total = s.Total.Clone()
	return c
}

// Merge adds o to s: counters add, histograms merge exactly, Began and Start
// take the earlier time and Taken the later. It is how the snapshots of
// several nodes for the same interval are combined.
func (s *Snapshot) Merge(o *Snapshot) error {
	s.Began = earlier(s.Began, o.Began)
	s.Start = earlier(s.Start, o.Start)
	s.Taken = later(s.Taken, o.Taken)
	s.Counts.Add(&o.Counts)
	s.Delta.Add(&o.Delta)
	if o.Publishing {
		if !s.Publishing || o.FirstPublish < s.FirstPublish {
			s.FirstPublish = o.FirstPublish
		}
		if !s.Publishing || o.LastPublish > s.LastPublish {
			s.LastPublish = o.LastPublish
		}
		s.Publishing = true
	}
	if err := s.Interval.Merge(&o.Interval); err != nil {
		return fmt.Errorf("metrics: merge snapshot interval: %w", err)
	}
	if err := s.Total.Merge(&o.Total); err != nil {
		return fmt.Errorf("metrics: merge snapshot total: %w", err)
	}
	return nil
}

// MergeSnapshots returns the merge of a and b without modifying either.
func MergeSnapshots(a, b Snapshot) (Snapshot, error) {
	out := a.Clone()
	if err := out.Merge(&b); err != nil {
		return Snapshot{}, err
	}
	return out, nil
}

// Point turns an interval snapshot into one time-series entry. runStart is
// the common start of the run; the point's T is the end of the interval in
// whole seconds after it.
func (s *Snapshot) Point(runStart time.Time) SeriesPoint {
	dt := s.Taken.Sub(s.Start).Seconds()
	e2e := s.Interval.Kind(E2E)
	ack := s.Interval.Kind(PublishAck)
	p := SeriesPoint{
		T:             int64(math.Round(s.Taken.Sub(runStart).Seconds())),
		Seconds:       dt,
		Connected:     s.Counts.Get(Connected),
		Published:     s.Delta.Sum(Published),
		Received:      s.Delta.Sum(Received),
		Acked:         s.Delta.Sum(Acked),
		ConnectOK:     s.Delta.Get(ConnectOK),
		ConnectFailed: s.Delta.ConnectFailedTotal(),
		Disconnects:   s.Delta.Get(Disconnects),
		Reconnects:    s.Delta.Get(Reconnects),
		PublishErrors: s.Delta.Get(PublishErrors),
		e2e:           e2e,
		ack:           ack,
	}
	p.setRates()
	p.setPercentiles()
	return p
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

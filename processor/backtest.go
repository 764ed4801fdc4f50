package processor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluicehq/sluice/internal/jsonstream"
	"github.com/sluicehq/sluice/processor/rule"
)

// ReadEvents calls fn with each JSON object in r, as `sluice produce
// --from` reads them: newline-delimited JSON and Firehose-style
// concatenated objects ({...}{...}, no delimiter), gzipped or not. A piece
// that is not an object goes to bad and reading goes on. raw is valid only
// during the call.
func ReadEvents(r io.Reader, fn func(raw []byte) error, bad func(error)) error {
	in, err := jsonstream.Decompress(r)
	if err != nil {
		return err
	}
	rd := jsonstream.NewObjectReader(in, 0)
	for {
		obj, err := rd.Next()
		var se *jsonstream.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &se):
			bad(se)
			continue
		case err != nil:
			return fmt.Errorf("reading events: %w", err)
		}
		if err := fn(obj.Data); err != nil {
			return err
		}
	}
}

// BacktestResult summarises a backtest.
type BacktestResult struct {
	Events, Invalid int64
	Rules           map[string]*BacktestRule
	FirstInvalid    []string // the first few reasons
}

// BacktestRule is one rule's figures in a backtest.
type BacktestRule struct {
	rule.Counts
	Outputs int64
}

// Backtest runs rules over the events in r as one partition, in order, and
// calls out for every output record; open windows are flushed when the
// input ends. Rules whose source is not source are skipped.
func Backtest(rules []*rule.Rule, source string, r io.Reader, out func(r *rule.Rule, key, value []byte) error) (*BacktestResult, error) {
	var use []*rule.Rule
	for _, ru := range rules {
		if ru.Source == source {
			use = append(use, ru)
		}
	}
	if len(use) == 0 {
		return nil, fmt.Errorf("no rule reads source %q", source)
	}
	res := &BacktestResult{Rules: map[string]*BacktestRule{}}
	for _, ru := range use {
		res.Rules[ru.Name] = &BacktestRule{}
	}
	task := rule.NewTask(use)
	codec := use[0].Codec
	s := &backtestSink{res: res, out: out}
	invalid := func(err error) {
		res.Invalid++
		if len(res.FirstInvalid) < 5 {
			res.FirstInvalid = append(res.FirstInvalid, fmt.Sprintf("event %d: %v", res.Events, err))
		}
	}
	err := ReadEvents(r, func(raw []byte) error {
		res.Events++
		rec, err := codec.Decode(raw)
		if err != nil {
			invalid(err)
			return nil
		}
		task.Process(rec, codec.EventTime(rec), raw, nil, s)
		task.Advance(s, time.Time{})
		return s.err
	}, func(err error) {
		res.Events++ // not JSON: counted and skipped, as the worker dead-letters it
		invalid(err)
	})
	if err != nil {
		return res, err
	}
	task.Flush(s)
	for i, ru := range task.Rules {
		res.Rules[ru.Name].Counts = task.Counts[i]
	}
	return res, s.err
}

type backtestSink struct {
	res *BacktestResult
	out func(r *rule.Rule, key, value []byte) error
	err error
}

func (s *backtestSink) Output(r *rule.Rule, key, value []byte) {
	s.res.Rules[r.Name].Outputs++
	if s.err == nil {
		s.err = s.out(r, key, bytes.Clone(value))
	}
}
func (s *backtestSink) Late(*rule.Rule, string) {}
func (s *backtestSink) Error(r *rule.Rule, err error) {
	if len(s.res.FirstInvalid) < 5 {
		s.res.FirstInvalid = append(s.res.FirstInvalid, err.Error())
	}
}

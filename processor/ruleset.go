package processor

import (
	"sort"

	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/schema"
)

// ruleSet is the loaded rules, grouped by source topic.
type ruleSet struct {
	all     []*rule.Rule
	byTopic map[string][]*rule.Rule
	codecs  map[string]*schema.Codec // per source topic
	// partials maps each combining rule's partials topic to the rule, and
	// partialsTo the rule to its topic (filled by the worker, which knows
	// the group).
	partials   map[string]*rule.Rule
	partialsTo map[*rule.Rule]string
	// repartitions maps each repartitioned rule's topic to the rule, and
	// forwardTo the rule to its topic (filled by the worker too).
	repartitions map[string]*rule.Rule
	forwardTo    map[*rule.Rule]string
}

func newRuleSet(rules []*rule.Rule) *ruleSet {
	rs := &ruleSet{all: rules, byTopic: map[string][]*rule.Rule{}, codecs: map[string]*schema.Codec{}}
	for _, r := range rules {
		t := r.Schema.Topic
		rs.byTopic[t] = append(rs.byTopic[t], r)
		if rs.codecs[t] == nil {
			rs.codecs[t] = r.Codec
		}
	}
	return rs
}

// windowed says whether a rule of topic keeps window state.
func (rs *ruleSet) windowed(topic string) bool {
	for _, r := range rs.byTopic[topic] {
		if !r.IsFilter() {
			return true
		}
	}
	return false
}

func (rs *ruleSet) topics() []string {
	var out []string
	for t := range rs.byTopic {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// consumed lists every topic the worker reads: sources, partials and
// repartition topics.
func (rs *ruleSet) consumed() []string {
	out := rs.topics()
	for t := range rs.internal() {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// consumedChange compares the topics rs and next read: added are next's
// topics rs does not read, removed are rs's topics no rule of next reads
// (a topic still read by another rule stays). Both sorted.
func (rs *ruleSet) consumedChange(next *ruleSet) (added, removed []string) {
	was, is := map[string]bool{}, map[string]bool{}
	for _, t := range rs.consumed() {
		was[t] = true
	}
	for _, t := range next.consumed() {
		is[t] = true
		if !was[t] {
			added = append(added, t)
		}
	}
	for _, t := range rs.consumed() {
		if !is[t] {
			removed = append(removed, t)
		}
	}
	return added, removed
}

func (rs *ruleSet) outputs() []string {
	var out []string
	for _, r := range rs.all {
		out = append(out, r.Output)
	}
	return out
}

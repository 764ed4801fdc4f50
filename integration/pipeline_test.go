//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/moby/moby/client"
	"github.com/parquet-go/parquet-go"
	"github.com/segmentio/kafka-go"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	inputTopic    = "clickstream"
	outputTopic   = "clickstream.high_intent_views"
	deadTopic     = "sluice.dead-letter"
	lateTopic     = "sluice.late"
	processGroup  = "it-process"
	sinkGroup     = "it-sink"
	lakePrefix    = "it"
	flushInterval = 2 * time.Second
	partitions    = 6
)

// pipeline is the broker, S3, processors and sinks of one test, plus
// clients in the test process.
type pipeline struct {
	*stack
	broker, s3 testcontainers.Container
	processors []testcontainers.Container
	sinks      []testcontainers.Container
	dial       *hostDialer
	cl         *kgo.Client
	adm        *kadm.Client
	s3c        *s3.Client
	docker     *testcontainers.DockerClient
	sec        *security // nil: plaintext, no SASL
}

func newPipeline(t *testing.T) *pipeline { return newPipelineWith(t, nil) }

// newPipelineWith starts the broker and S3; with sec the broker serves TLS
// and SCRAM only, and every client (containers and test) uses them.
func newPipelineWith(t *testing.T, sec *security) *pipeline {
	s := newStack(t)
	p := &pipeline{stack: s, sec: sec}
	p.broker = s.startBroker(partitions, []string{inputTopic, outputTopic, deadTopic, lateTopic}, sec.brokerOpts()...)
	p.s3 = s.startS3()
	p.dial = s.dialer(map[string]testcontainers.Container{brokerAlias + ":9092": p.broker, s3Alias + ":9000": p.s3})
	cl, err := kgo.NewClient(p.kafkaOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	p.cl, p.adm = cl, kadm.NewClient(cl)
	p.s3c = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + p.dial.ports[s3Alias+":9000"]),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s3AccessKey, SecretAccessKey: s3SecretKey}, nil
		}),
	})
	if strings.Contains(s3Image, "minio") {
		if _, err := p.s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
			t.Fatalf("creating the bucket: %v", err)
		}
	}
	dc, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	p.docker = dc
	return p
}

// startProcessor starts one more `sluice process` replica.
func (p *pipeline) startProcessor() testcontainers.Container {
	name := fmt.Sprintf("processor-%d", len(p.processors))
	c := p.start(name, p.sec.worker(testcontainers.ContainerRequest{
		Image: sluiceImage,
		Cmd: []string{"process", "--brokers", brokerAlias + ":9092", "--rules", "/rules", "--group", processGroup,
			"--instance-id", name, "--metrics-addr", ":9100", "--log-format", "text"},
		Files:        []testcontainers.ContainerFile{{Reader: strings.NewReader(highIntentRule), ContainerFilePath: "/rules/high_intent_views.yaml", FileMode: 0o644}},
		ExposedPorts: []string{"9100/tcp"},
		WaitingFor:   wait.ForHTTP("/readyz").WithPort("9100/tcp").WithStartupTimeout(time.Minute),
	}))
	p.processors = append(p.processors, c)
	return c
}

// startSink starts one more `sluice sink` replica writing to the S3 container.
func (p *pipeline) startSink() testcontainers.Container {
	name := fmt.Sprintf("sink-%d", len(p.sinks))
	to := "s3://" + s3Bucket + "/" + lakePrefix + "?" + url.Values{
		"endpoint": {"http://" + s3Alias + ":9000"}, "use_path_style": {"true"}, "region": {"us-east-1"},
	}.Encode()
	c := p.start(name, p.sec.worker(testcontainers.ContainerRequest{
		Image: sluiceImage,
		Cmd: []string{"sink", "--brokers", brokerAlias + ":9092", "--topics", inputTopic + "," + outputTopic,
			"--schema", outputTopic + "=clickstream", "--to", to, "--group", sinkGroup,
			"--flush-interval", flushInterval.String(), "--metrics-addr", ":9100", "--log-format", "text"},
		Env:          map[string]string{"AWS_ACCESS_KEY_ID": s3AccessKey, "AWS_SECRET_ACCESS_KEY": s3SecretKey, "AWS_REGION": "us-east-1"},
		ExposedPorts: []string{"9100/tcp"},
		WaitingFor:   wait.ForHTTP("/readyz").WithPort("9100/tcp").WithStartupTimeout(time.Minute),
	}))
	p.sinks = append(p.sinks, c)
	return c
}

// kill stops a container with SIGKILL (no graceful shutdown), then
// starts it again: same container, same host name and instance id.
func (p *pipeline) killAndRestart(c testcontainers.Container) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.docker.ContainerKill(ctx, c.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		p.t.Fatalf("killing %s: %v", c.GetContainerID(), err)
	}
	waitFor(p.t, 30*time.Second, "the killed container to stop", func() (bool, error) {
		st, err := c.State(ctx)
		return err == nil && !st.Running, err
	})
	if err := c.Start(ctx); err != nil {
		p.t.Fatalf("restarting: %v", err)
	}
}

// produce writes events to the input topic, keyed by user, idempotently.
func (p *pipeline) produce(events []event) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		v, _ := json.Marshal(e)
		recs[i] = &kgo.Record{Topic: inputTopic, Key: []byte(e.UserID), Value: v}
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		p.t.Fatalf("producing: %v", err)
	}
}

// waitCaughtUp polls until group has committed every offset of topics.
func (p *pipeline) waitCaughtUp(group string, timeout time.Duration, topics ...string) {
	p.t.Helper()
	waitFor(p.t, timeout, group+" to commit every offset of "+strings.Join(topics, ","), func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ends, err := p.adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return false, err
		}
		committed, err := p.adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err
		}
		total := int64(0)
		ends.Each(func(o kadm.ListedOffset) {
			at := int64(0)
			if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil {
				at = c.At
			}
			total += o.Offset - at
		})
		return total == 0, fmt.Errorf("lag %d", total)
	})
}

// committedOutputs reads the output topic with franz-go, read_committed,
// until every wanted id is in: click id -> copies.
func (p *pipeline) committedOutputs(want int) map[string]int {
	p.t.Helper()
	cl, err := kgo.NewClient(append(p.kafkaOpts(),
		kgo.ConsumeTopics(outputTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := map[string]int{}
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(t string, part int32, err error) { p.t.Errorf("reading %s/%d: %v", t, part, err) })
		fs.EachRecord(func(r *kgo.Record) {
			var e event
			if err := json.Unmarshal(r.Value, &e); err != nil {
				p.t.Errorf("output at %d/%d is not an event: %v", r.Partition, r.Offset, err)
				return
			}
			got[e.ClickID]++
		})
	}
	return got
}

// kafkaGoOutputs reads the output topic with segmentio/kafka-go, the
// independent client, until every wanted id is in: click id -> copies.
// kafka-go v0.4.51 implements no transactions on the consumer side
// (segmentio/kafka-go#1332, #1446): it hands out commit markers as
// messages, which are skipped here, and does not drop aborted data, so
// after a crash its copies may exceed one.
func (p *pipeline) kafkaGoOutputs(want int) map[string]int {
	p.t.Helper()
	got := map[string]int{}
	total := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	readers := make([]*kafka.Reader, partitions)
	for part := range readers {
		readers[part] = kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{brokerAlias + ":9092"}, Topic: outputTopic, Partition: part,
			Dialer:         p.kafkaGoDialer(),
			IsolationLevel: kafka.ReadCommitted, MaxWait: 200 * time.Millisecond,
		})
		defer readers[part].Close()
	}
	// Every partition reader feeds one set until the expected outputs are
	// all in; then any extra copy would already be counted.
	done := make(chan struct{})
	for _, r := range readers {
		wg.Add(1)
		go func(r *kafka.Reader) {
			defer wg.Done()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				if isControlRecord(m) {
					continue
				}
				var e event
				if err := json.Unmarshal(m.Value, &e); err != nil {
					p.t.Errorf("output at %d/%d is not an event: %v", m.Partition, m.Offset, err)
					continue
				}
				mu.Lock()
				got[e.ClickID]++
				total++
				if len(got) == want {
					select {
					case <-done:
					default:
						close(done)
					}
				}
				mu.Unlock()
			}
		}(r)
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	return got
}

// lakeRows lists the table's Parquet objects in the S3 container and reads
// their click ids: click id -> copies.
func (p *pipeline) lakeRows(table string) (map[string]int, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := lakePrefix + "/" + table + "/"
	rows := map[string]int{}
	files := 0
	name := regexp.MustCompile(`^year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/[^/+]+\+\d+\+\d{20}\.snappy\.parquet$`)
	pager := s3.NewListObjectsV2Paginator(p.s3c, &s3.ListObjectsV2Input{Bucket: aws.String(s3Bucket), Prefix: aws.String(prefix)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, 0, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !name.MatchString(strings.TrimPrefix(key, prefix)) {
				return nil, 0, fmt.Errorf("object %s does not follow the lake layout", key)
			}
			obj, err := p.s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: o.Key})
			if err != nil {
				return nil, 0, err
			}
			data, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				return nil, 0, err
			}
			rs, err := parquet.Read[clickRow](bytes.NewReader(data), int64(len(data)))
			if err != nil {
				return nil, 0, fmt.Errorf("reading %s: %w", key, err)
			}
			if err := sameInIndependentReader(key, data, rs); err != nil {
				return nil, 0, err
			}
			for _, r := range rs {
				rows[r.ClickID]++
			}
			files++
		}
	}
	return rows, files, nil
}

// expectLake polls the lake until the table holds want, then checks it
// holds nothing else and nothing twice.
func (p *pipeline) expectLake(table string, want map[string]bool) {
	p.t.Helper()
	var rows map[string]int
	files := 0
	waitFor(p.t, 2*time.Minute, fmt.Sprintf("%d rows in table %s", len(want), table), func() (bool, error) {
		var err error
		rows, files, err = p.lakeRows(table)
		if err != nil {
			return false, err
		}
		return len(rows) >= len(want), fmt.Errorf("%d of %d rows", len(rows), len(want))
	})
	checkExact(p.t, "lake table "+table, rows, want)
	p.t.Logf("lake table %s: %d rows in %d Parquet files", table, len(rows), files)
}

// verify waits for the workers to catch up and checks the outputs (read
// with kafka-go) and both lake tables exactly.
func (p *pipeline) verify(events []event, crashed bool) {
	p.t.Helper()
	all, matches := expectations(events)
	if len(matches) == 0 || len(matches) == len(all) {
		p.t.Fatalf("degenerate test data: %d of %d match", len(matches), len(all))
	}
	p.waitCaughtUp(processGroup, 3*time.Minute, inputTopic)
	checkExact(p.t, "topic "+outputTopic+" (franz-go, read_committed)", p.committedOutputs(len(matches)), matches)
	viaKafkaGo := p.kafkaGoOutputs(len(matches))
	if !crashed {
		checkExact(p.t, "topic "+outputTopic+" (segmentio/kafka-go)", viaKafkaGo, matches)
	} else {
		for id := range viaKafkaGo {
			viaKafkaGo[id] = 1 // aborted copies: see kafkaGoOutputs
		}
		checkExact(p.t, "topic "+outputTopic+" (segmentio/kafka-go, aborted copies ignored)", viaKafkaGo, matches)
	}
	// The output topic ends with transaction markers the sink never
	// commits past: its lake table is polled instead.
	p.waitCaughtUp(sinkGroup, 3*time.Minute, inputTopic)
	p.expectLake("clickstream", all)
	p.expectLake("clickstream_high_intent_views", matches)
	p.t.Logf("%d events, %d high-intent views: every one exactly once in the output topic and the lake", len(all), len(matches))
}

func eventBase() time.Time { return time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour) }

// TestPipelineEndToEnd: N events through one processor and one sink.
func TestPipelineEndToEnd(t *testing.T) {
	p := newPipeline(t)
	p.startProcessor()
	p.startSink()
	events := generate(1, 20000, eventBase())
	p.produce(events)
	p.verify(events, false)
}

// TestPipelineCrashes: the processor and the sink are killed (SIGKILL)
// mid-run and restarted; nothing is lost or duplicated.
func TestPipelineCrashes(t *testing.T) {
	p := newPipeline(t)
	proc := p.startProcessor()
	sink := p.startSink()
	events := generate(2, 30000, eventBase())
	third := len(events) / 3
	p.produce(events[:third])
	// Kill the processor once it has committed some, not all, output.
	waitFor(t, time.Minute, "the processor to commit some output", func() (bool, error) {
		ends, err := p.adm.ListEndOffsets(context.Background(), outputTopic)
		return err == nil && sumOffsets(ends) > 0, err
	})
	p.produce(events[third : 2*third])
	p.killAndRestart(proc)
	// Kill the sink once files are in the lake.
	waitFor(t, time.Minute, "the sink to write a file", func() (bool, error) {
		_, files, err := p.lakeRows("clickstream")
		return files > 0, err
	})
	p.produce(events[2*third:])
	p.killAndRestart(sink)
	p.verify(events, true)
}

// TestPipelineS3Outage: the S3 container is paused for longer than the
// sink's flush interval while events flow; once it is back, every row lands
// exactly once.
func TestPipelineS3Outage(t *testing.T) {
	p := newPipeline(t)
	p.startProcessor()
	p.startSink()
	events := generate(3, 20000, eventBase())
	half := len(events) / 2
	p.produce(events[:half])
	ctx := context.Background()
	if _, err := p.docker.ContainerPause(ctx, p.s3.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		t.Fatalf("pausing S3: %v", err)
	}
	paused := time.Now()
	p.produce(events[half:])
	// The sink holds records it cannot make durable, and the outage lasts
	// several flush intervals.
	outage := 4 * flushInterval
	waitFor(t, time.Minute, "the sink to hold uncommitted records while S3 is out", func() (bool, error) {
		n, err := p.metric(p.sinks[0], "sluice_sink_uncommitted_records")
		return n > 0, err
	})
	waitFor(t, outage+10*time.Second, "the outage to last", func() (bool, error) { return time.Since(paused) > outage, nil })
	if _, err := p.docker.ContainerUnpause(ctx, p.s3.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		t.Fatalf("unpausing S3: %v", err)
	}
	p.verify(events, false)
	retries, _ := p.metric(p.sinks[0], "sluice_sink_store_retries_total")
	t.Logf("S3 paused for %v (flush interval %v); the sink retried %v store calls", outage, flushInterval, retries)
}

// TestProcessorScaling: two processor replicas share the input partitions;
// a third joins mid-run and the group rebalances; outputs stay exact.
func TestProcessorScaling(t *testing.T) {
	p := newPipeline(t)
	p.startProcessor()
	p.startProcessor()
	p.startSink()
	p.waitMembers(2)
	events := generate(4, 30000, eventBase())
	half := len(events) / 2
	p.produce(events[:half])
	p.startProcessor()
	p.produce(events[half:])
	p.waitMembers(3)
	// A rebalance may abort a transaction in flight.
	p.verify(events, true)
}

// waitMembers polls until the processor group is stable with n members,
// each owning some partitions.
func (p *pipeline) waitMembers(n int) {
	p.t.Helper()
	waitFor(p.t, 2*time.Minute, fmt.Sprintf("%d processors sharing the partitions", n), func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gs, err := p.adm.DescribeGroups(ctx, processGroup)
		if err != nil {
			return false, err
		}
		g, ok := gs[processGroup]
		if !ok || g.Err != nil {
			return false, errors.New("group not described")
		}
		if g.State != "Stable" || len(g.Members) != n {
			return false, fmt.Errorf("state %s, %d members", g.State, len(g.Members))
		}
		for _, m := range g.Members {
			a, ok := m.Assigned.AsConsumer()
			if !ok || len(a.Topics) == 0 {
				return false, fmt.Errorf("member %s owns nothing", m.MemberID)
			}
		}
		return true, nil
	})
}

func sumOffsets(ends kadm.ListedOffsets) int64 {
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// isControlRecord spots a transaction marker kafka-go hands out as a
// message: key = version int16 0 + type int16 (0 abort, 1 commit), value =
// version int16 0 + coordinator epoch int32.
func isControlRecord(m kafka.Message) bool {
	return len(m.Key) == 4 && m.Key[0] == 0 && m.Key[1] == 0 && m.Key[2] == 0 && m.Key[3] <= 1 &&
		len(m.Value) == 6 && m.Value[0] == 0 && m.Value[1] == 0
}

// metric reads one unlabelled sample (or the sum of a family's samples)
// from a container's /metrics.
func (p *pipeline) metric(c testcontainers.Container, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ep, err := c.PortEndpoint(ctx, "9100/tcp", "http")
	if err != nil {
		return 0, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		metric, value, ok := strings.Cut(line, " ")
		if !ok || metric != name && !strings.HasPrefix(metric, name+"{") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return 0, err
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, fmt.Errorf("no %s in /metrics", name)
	}
	return sum, nil
}

package producer

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/internal/telemetry"
)

// Generate produces synthetic events until Count events, Duration or ctx
// ends the run, then waits for every record's acknowledgement (or failure)
// and returns. It returns ErrUndelivered when any record failed.
func Generate(ctx context.Context, cfg GenConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	src, err := NewEventSource(cfg)
	if err != nil {
		return err
	}
	cl, err := newProducer(cfg.Kafka, cfg.Compression, cfg.DeliveryTimeout, telemetry.KafkaMetrics("sluice_generate_kafka", cfg.Reg)...)
	if err != nil {
		return err
	}
	if err := checkTopics(ctx, cl, 15*time.Second, cfg.Topic); err != nil {
		cl.Close()
		return err
	}
	log := cfg.Log.With("component", "generate", "topic", cfg.Topic)
	log.Info("generating", "schema", cfg.Schema.Name, "seed", cfg.Seed, "rate", cfg.Rate, "count", cfg.Count,
		"duration", cfg.Duration.String(), "users", cfg.Users, "user_dist", cfg.UserDist, "late_fraction", cfg.LateFraction)

	snd := newSender(cl, cfg.Stats, newMetrics(cfg.Reg, "generate"))
	prog := startProgress("generate", cfg.Progress, log, cfg.LogEvery, cfg.Stats)
	genCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		genCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	grace := cfg.DeliveryTimeout + min(cfg.DeliveryTimeout, 10*time.Second)
	snd.abandonAfter(genCtx.Done(), grace)
	lim := newLimiter(cfg.Rate)
	topic := cfg.Topic
	for i := int64(0); cfg.Count == 0 || i < cfg.Count; i++ {
		if i&63 == 0 && genCtx.Err() != nil {
			break
		}
		if lim.wait(genCtx) != nil {
			break
		}
		snd.room(4096)
		start := len(snd.slab)
		var key []byte
		snd.slab, key = src.Append(snd.slab)
		value := snd.slab[start:len(snd.slab):len(snd.slab)]
		r := snd.record()
		r.Topic, r.Value = topic, value
		k0 := len(snd.slab)
		snd.slab = append(snd.slab, key...)
		r.Key = snd.slab[k0:len(snd.slab):len(snd.slab)]
		snd.produce(r)
	}
	err = snd.finish(grace, topic)
	prog.finish("generated", snd.sent.Load(), "seed", cfg.Seed)
	return err
}

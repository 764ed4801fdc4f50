-- SQL twin of ../events_per_minute.yaml, KDA style: a pump and STEP.
-- description: How many events of each kind arrive per minute (event time)
-- output: clickstream.events_per_minute
-- source: clickstream
-- allowed_lateness: 10s
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (event_name VARCHAR(16), events INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM event_name, COUNT(*) AS events
FROM "SOURCE_SQL_STREAM_001"
GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE), event_name;


/*
tests:
  - name: counts per kind and minute
    events:
      - {timestamp: "2024-01-01 00:00:05", event_name: Search}
      - {timestamp: "2024-01-01 00:00:40", event_name: Search}
      - {timestamp: "2024-01-01 00:00:50", event_name: Purchase}
      - {timestamp: "2024-01-01 00:01:10", event_name: Search}
    expect:
      - {window_start: "2024-01-01 00:00:00", window_end: "2024-01-01 00:01:00", event_name: Search, events: 2}
      - {window_start: "2024-01-01 00:00:00", event_name: Purchase, events: 1}
      - {window_start: "2024-01-01 00:01:00", event_name: Search, events: 1}
  - name: an event within the allowed lateness still counts, a later one does not
    events:
      - {timestamp: "2024-01-01 00:00:30", event_name: Search}
      - {timestamp: "2024-01-01 00:01:05", event_name: Search}
      - {timestamp: "2024-01-01 00:00:59", event_name: Search}
      - {timestamp: "2024-01-01 00:01:20", event_name: Search}
      - {timestamp: "2024-01-01 00:00:58", event_name: Search}
    expect:
      - {window_start: "2024-01-01 00:00:00", event_name: Search, events: 2}
      - {window_start: "2024-01-01 00:01:00", event_name: Search, events: 2}
*/

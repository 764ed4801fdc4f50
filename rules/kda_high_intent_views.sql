-- The Kinesis Data Analytics application this replaces, unchanged: only the
-- header lines below are new. They name the schema the KDA input stream
-- carries and map the KDA column names onto its fields; the output keeps the
-- KDA column names, so consumers of DESTINATION_SQL_STREAM see the same rows.
--
-- description: High-intent product views, as the retired KDA application computed them
-- source: clickstream
-- output: clickstream.kda_high_intent_views
-- map: COL_timestamp = timestamp, percent_viewed = additional_data.percent_viewed
-- map: product_id = additional_data.product_id, price = additional_data.price

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "COL_timestamp"  TIMESTAMP,
    "event_name"     VARCHAR(16),
    "percent_viewed" DOUBLE,
    "product_id"     INTEGER,
    "price"          DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM "COL_timestamp", "event_name", "percent_viewed", "product_id", "price" FROM "SOURCE_SQL_STREAM_001" WHERE "event_name" = 'ViewContent' AND "percent_viewed" > 60;

/*
tests:
  - name: a deep view passes with the KDA columns
    event: {timestamp: "2021-07-12 12:01:58.732726", event_name: ViewContent, additional_data: {percent_viewed: 75.5, product_id: 557246, price: 417.97}}
    expect: match
    output: {COL_timestamp: "2021-07-12 12:01:58.732726", event_name: ViewContent, percent_viewed: 75.5, product_id: 557246, price: 417.97}
  - name: exactly 60% is not enough
    event: {event_name: ViewContent, additional_data: {percent_viewed: 60}}
    expect: no_match
  - name: other events never match
    event: {event_name: Purchase, additional_data: {percent_viewed: 99}}
    expect: no_match
*/

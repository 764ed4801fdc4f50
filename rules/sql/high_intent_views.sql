-- SQL twin of ../high_intent_views.yaml: the same rule, the same outputs.
-- name: high_intent_views
-- description: ViewContent events where more than 60% of the page was seen
-- output: clickstream.high_intent_views
SELECT *
FROM clickstream
WHERE event_name = 'ViewContent' AND additional_data.percent_viewed > 60;

/*
tests:
  - name: a deep view matches
    event: {event_name: ViewContent, additional_data: {percent_viewed: 75}}
    expect: match
  - name: exactly 60% is not enough
    event: {event_name: ViewContent, additional_data: {percent_viewed: 60}}
    expect: no_match
  - name: other events never match
    event: {event_name: Purchase, additional_data: {percent_viewed: 99}}
    expect: no_match
*/

-- SQL twin of ../abandoned_carts.yaml: a session window and HAVING.
-- description: Shopping sessions (events of one user less than 30 minutes apart) with an AddToCart but no Purchase: carts left behind
-- output: clickstream.abandoned_carts
-- allowed_lateness: 1m
SELECT user_id,
       SUM(CASE WHEN event_name = 'AddToCart' THEN 1 ELSE 0 END) AS carts,
       SUM(CASE WHEN event_name = 'Purchase' THEN 1 ELSE 0 END)  AS purchases,
       COUNT(*)                                                  AS events,
       MAX("timestamp")                                          AS last_event
FROM clickstream
GROUP BY SESSION(ROWTIME, INTERVAL '30' MINUTE), user_id
HAVING carts > 0 AND SUM(CASE WHEN event_name = 'Purchase' THEN 1 ELSE 0 END) = 0;

/*
tests:
  - name: a cart without purchase is reported when the session ends
    events:
      - {timestamp: "2024-01-01 10:00:00", user_id: "u1", event_name: Search}
      - {timestamp: "2024-01-01 10:05:00", user_id: "u1", event_name: AddToCart}
      - {timestamp: "2024-01-01 10:20:00", user_id: "u1", event_name: ViewContent}
    expect:
      - {user_id: u1, carts: 1, purchases: 0, events: 3, window_start: "2024-01-01 10:00:00", window_end: "2024-01-01 10:50:00", last_event: "2024-01-01 10:20:00"}
  - name: a purchase in the same session clears it
    events:
      - {timestamp: "2024-01-01 10:00:00", user_id: "u1", event_name: AddToCart}
      - {timestamp: "2024-01-01 10:25:00", user_id: "u1", event_name: Purchase}
    expect: []
  - name: a purchase after the 30-minute gap is another session
    events:
      - {timestamp: "2024-01-01 10:00:00", user_id: "u1", event_name: AddToCart}
      - {timestamp: "2024-01-01 10:31:00", user_id: "u1", event_name: Purchase}
    expect:
      - {user_id: u1, carts: 1, events: 1, window_end: "2024-01-01 10:30:00"}
  - name: a purchase exactly 30 minutes later is already another session
    events:
      - {timestamp: "2024-01-01 10:00:00", user_id: "u1", event_name: AddToCart}
      - {timestamp: "2024-01-01 10:30:00", user_id: "u1", event_name: Purchase}
    expect:
      - {user_id: u1, carts: 1, purchases: 0, events: 1, window_end: "2024-01-01 10:30:00"}
  - name: users are separate
    events:
      - {timestamp: "2024-01-01 10:00:00", user_id: "u1", event_name: AddToCart}
      - {timestamp: "2024-01-01 10:01:00", user_id: "u2", event_name: AddToCart}
      - {timestamp: "2024-01-01 10:02:00", user_id: "u2", event_name: Purchase}
    expect:
      - {user_id: u1, carts: 1}
*/

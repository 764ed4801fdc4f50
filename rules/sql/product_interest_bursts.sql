-- SQL twin of ../product_interest_bursts.yaml: a session window per product and HAVING.
-- description: Bursts of interest in a product across all users (sessions per product, 10-minute gap), with viewers, carts and purchases; grouped by product, not by the user key, so it runs through the repartition topic
-- output: clickstream.product_interest_bursts
-- allowed_lateness: 30s
SELECT additional_data.product_id                                              AS product_id,
       COUNT(*)                                                                AS events,
       COUNT(DISTINCT user_id)                                                 AS viewers,
       SUM(CASE WHEN event_name = 'AddToCart' THEN 1 ELSE 0 END)               AS carts,
       SUM(CASE WHEN event_name = 'Purchase' THEN 1 ELSE 0 END)                AS purchases,
       SUM(CASE WHEN event_name = 'Purchase' THEN additional_data.price ELSE 0.0 END) AS revenue
FROM clickstream
WHERE event_name <> 'Search'
GROUP BY SESSION(ROWTIME, INTERVAL '10' MINUTE), additional_data.product_id
HAVING COUNT(*) >= 3;

/*
tests:
  - name: one burst over three users, closed by a 10-minute gap
    events:
      - {timestamp: "2024-01-01 10:00:00", event_name: ViewContent, user_id: "1", additional_data: {product_id: 7, price: 20}}
      - {timestamp: "2024-01-01 10:04:00", event_name: ViewContent, user_id: "2", additional_data: {product_id: 7, price: 20}}
      - {timestamp: "2024-01-01 10:05:00", event_name: AddToCart, user_id: "2", additional_data: {product_id: 7, price: 20}}
      - {timestamp: "2024-01-01 10:12:00", event_name: Purchase, user_id: "3", additional_data: {product_id: 7, price: 19.5}}
      - {timestamp: "2024-01-01 10:13:00", event_name: Search, user_id: "4", additional_data: {product_id: 7, price: 20}}
      - {timestamp: "2024-01-01 11:00:00", event_name: ViewContent, user_id: "9", additional_data: {product_id: 8, price: 1}}
    expect:
      - {product_id: 7, events: 4, viewers: 3, carts: 1, purchases: 1, revenue: 19.5, window_start: "2024-01-01 10:00:00", window_end: "2024-01-01 10:22:00"}
  - name: small bursts are left out
    events:
      - {timestamp: "2024-01-01 10:00:00", event_name: ViewContent, user_id: "1", additional_data: {product_id: 7, price: 20}}
      - {timestamp: "2024-01-01 10:01:00", event_name: AddToCart, user_id: "1", additional_data: {product_id: 7, price: 20}}
      - {timestamp: "2024-01-01 11:00:00", event_name: ViewContent, user_id: "9", additional_data: {product_id: 8, price: 1}}
    expect: []
*/

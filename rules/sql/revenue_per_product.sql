-- SQL twin of ../revenue_per_product.yaml, Flink style: HOP(time, slide, size).
-- description: Purchase revenue per product over the last 5 minutes, updated every minute
-- output: clickstream.revenue_per_product
-- repartition: true
-- allowed_lateness: 30s
SELECT additional_data.product_id AS product_id,
       SUM(additional_data.price) AS revenue,
       COUNT(*)                   AS purchases,
       COUNT(DISTINCT user_id)    AS buyers
FROM clickstream
WHERE event_name = 'Purchase'
GROUP BY HOP(ROWTIME, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), additional_data.product_id;

/*
tests:
  - name: one purchase counts in the five windows that cover it
    events:
      - {timestamp: "2024-01-01 00:07:30", event_name: Purchase, user_id: "7", additional_data: {product_id: 42, price: 10.5}}
    expect:
      - {product_id: 42, revenue: 10.5, purchases: 1, buyers: 1, window_start: "2024-01-01 00:03:00", window_end: "2024-01-01 00:08:00"}
      - {product_id: 42, revenue: 10.5, window_start: "2024-01-01 00:04:00"}
      - {product_id: 42, revenue: 10.5, window_start: "2024-01-01 00:05:00"}
      - {product_id: 42, revenue: 10.5, window_start: "2024-01-01 00:06:00"}
      - {product_id: 42, revenue: 10.5, window_start: "2024-01-01 00:07:00"}
  - name: revenue adds up per product; other events are ignored
    events:
      - {timestamp: "2024-01-01 00:00:10", event_name: Purchase, user_id: "1", additional_data: {product_id: 1, price: 5}}
      - {timestamp: "2024-01-01 00:00:20", event_name: Purchase, user_id: "1", additional_data: {product_id: 1, price: 7}}
      - {timestamp: "2024-01-01 00:00:30", event_name: Purchase, user_id: "2", additional_data: {product_id: 2, price: 1}}
      - {timestamp: "2024-01-01 00:00:40", event_name: AddToCart, user_id: "3", additional_data: {product_id: 1, price: 100}}
    expect:
      - {window_start: "2023-12-31 23:56:00", product_id: 1, revenue: 12, purchases: 2, buyers: 1}
      - {window_start: "2023-12-31 23:57:00", product_id: 1, revenue: 12}
      - {window_start: "2023-12-31 23:58:00", product_id: 1, revenue: 12}
      - {window_start: "2023-12-31 23:59:00", product_id: 1, revenue: 12}
      - {window_start: "2024-01-01 00:00:00", product_id: 1, revenue: 12}
      - {window_start: "2023-12-31 23:56:00", product_id: 2, revenue: 1, purchases: 1}
      - {window_start: "2023-12-31 23:57:00", product_id: 2, revenue: 1}
      - {window_start: "2023-12-31 23:58:00", product_id: 2, revenue: 1}
      - {window_start: "2023-12-31 23:59:00", product_id: 2, revenue: 1}
      - {window_start: "2024-01-01 00:00:00", product_id: 2, revenue: 1}
*/

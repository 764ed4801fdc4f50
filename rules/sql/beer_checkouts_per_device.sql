-- SQL twin of ../beer_checkouts_per_device.yaml, Flink style.
-- description: Beer shop checkouts and distinct buyers per device type, per 5 minutes
-- output: beer_clicks.checkouts_per_device
-- allowed_lateness: 30s
SELECT device_id,
       COUNT(*)                AS checkouts,
       COUNT(DISTINCT user_id) AS buyers
FROM beer_clicks
WHERE client_event = 'beer_checkout'
GROUP BY TUMBLE(client_timestamp, INTERVAL '5' MINUTE), device_id;

/*
tests:
  - name: checkouts per device, buyers counted once
    events:
      - {client_timestamp: "2024-04-23T12:01:00", user_id: 1, device_id: mobile, client_event: beer_checkout}
      - {client_timestamp: "2024-04-23T12:02:00", user_id: 1, device_id: mobile, client_event: beer_checkout}
      - {client_timestamp: "2024-04-23T12:03:00", user_id: 2, device_id: mobile, client_event: beer_checkout}
      - {client_timestamp: "2024-04-23T12:03:30", user_id: 3, device_id: tablet, client_event: beer_cart}
    expect:
      - {device_id: mobile, checkouts: 3, buyers: 2, window_start: "2024-04-23 12:00:00", window_end: "2024-04-23 12:05:00"}
*/

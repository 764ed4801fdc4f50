-- SQL twin of ../beer_cart_clicks.yaml.
-- description: Beer shop cart and checkout clicks, trimmed to the columns the funnel dashboard reads
INSERT INTO "beer_clicks.cart_clicks"
SELECT client_timestamp, user_id, client_event, device_id = 'mobile' AS mobile
FROM beer_clicks
WHERE client_event IN ('beer_cart', 'beer_checkout');

/*
tests:
  - name: a cart click passes, projected
    event: {user_id: 7, device_id: mobile, client_event: beer_cart, client_timestamp: "2024-04-23T12:02:20.256387"}
    expect: match
    output: {user_id: 7, client_event: beer_cart, mobile: true, client_timestamp: "2024-04-23T12:02:20.256387"}
  - name: a checkout click passes too
    event: {user_id: 8, device_id: tablet, client_event: beer_checkout, client_timestamp: "2024-04-23T12:03:18.864939"}
    expect: match
    output: {user_id: 8, client_event: beer_checkout, mobile: false}
  - name: browsing does not
    event: {client_event: beer_products}
    expect: no_match
*/

"""`mealytics serve`: the read-only HTTP API over the published marts (issue 18).

- `state`: the API's own state (tokens, stored loyalty analytics, widgets) in
  `MEALYTICS_API_STATE`, never in the warehouse;
- `app`: the FastAPI application (`create_app`).
"""

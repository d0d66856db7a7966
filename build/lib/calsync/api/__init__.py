"""The Cronofy v1-compatible HTTP API (FastAPI).

`calsync.api.app.create_app` builds the app from `calsync.api.deps.ApiServices`;
nothing is created at import time. Routes raise `calsync.errors` exceptions and
`calsync.api.errors` turns them into Cronofy-shaped responses.
"""

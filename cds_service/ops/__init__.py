"""The service's operational surface.

- ``wiring.init_app``: the store (``cds_service.store``), the card policy the
  pipeline calls, the ``Metrics`` every counting part is given (``metrics_enabled``
  read once), feedback intake and the summary for the views, request hooks;
- ``http``: request ids, timing and one log line per request;
- ``logjson``: JSON log lines (the app's and gunicorn's);
- ``metrics``: Prometheus metrics (``PrometheusMetrics``); ``multiproc``: their folder under gunicorn;
- ``readiness``: what ``/readyz`` checks.

Deliberately empty: ``cds-service serve`` imports ``multiproc`` before
prometheus_client may be imported, which importing ``metrics`` here would do.
"""

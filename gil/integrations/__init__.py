"""GIL where other frameworks train: :mod:`~gil.integrations.opengait` (a loss OpenGait's aggregator can build)."""

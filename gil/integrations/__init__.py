"""GIL where other frameworks train: :mod:`~gil.integrations.opengait` (a loss OpenGait's aggregator can build)
and :mod:`~gil.integrations.pml` (a pytorch-metric-learning loss; the ``[pml]`` extra)."""

"""NRC inside other training tools (docs/integrations.md).

Each submodule imports its framework, so ``import nrc`` and ``import nrc.metrics`` import none of
them; install the matching extra first:

- :mod:`nrc.integrations.torchmetrics` — ``RegressionCollapse``, a torchmetrics ``Metric``
  (``nrc[lightning]``);
- :mod:`nrc.integrations.lightning` — ``CollapseMonitor``, a Lightning ``Callback``
  (``nrc[lightning]``);
- :mod:`nrc.integrations.transformers` — ``CollapseCallback``, a Hugging Face
  ``TrainerCallback`` (``nrc[hf]``);
- :mod:`nrc.integrations.loggers` — ``MetricsLogger``, TensorBoard / W&B / MLflow for nrc's own
  training loop (``nrc[loggers]``).

:mod:`nrc.integrations.common` (no framework needed) finds a model's head and measures it.
"""

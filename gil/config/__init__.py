"""Run configuration: frozen dataclasses (:mod:`~gil.config.schema`) loaded from and saved to YAML
(:mod:`~gil.config.loading`).

One YAML file describes one experiment (as OpenGait's configs do). The CLI's ``--set a.b=v``, a
notebook's parameter dict and the YAML all map onto the same fields. Unknown keys and values of the
wrong type are errors naming the dotted key and what was expected; a renamed key (``data.p``, now
``data.identities``) is an error naming its new key, not a silent alias.

Paths: a relative ``data.root`` (or partition file) is taken from the working directory, as any Python
library takes a path; the entry points make them absolute first with :meth:`RunConfig.resolved` — the CLI
against the current directory, the notebooks against the project root. Bundled configs are read from the
installed package (``importlib.resources``).
"""

from gil.config.loading import (
    CONFIG_DIR,
    RENAMED_KEYS,
    bundled_configs,
    changes,
    dump,
    find_config,
    from_dict,
    load,
    load_yaml,
    parse_overrides,
    save,
)
from gil.config.schema import (
    DataConfig,
    EvalConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    ScheduleConfig,
    TrainerConfig,
    resolve_path,
)

__all__ = [
    "CONFIG_DIR",
    "RENAMED_KEYS",
    "DataConfig",
    "EvalConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "ScheduleConfig",
    "TrainerConfig",
    "bundled_configs",
    "changes",
    "dump",
    "find_config",
    "from_dict",
    "load",
    "load_yaml",
    "parse_overrides",
    "resolve_path",
    "save",
]

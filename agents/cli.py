"""The command line of the training scripts: flags into a :class:`~agents.config.SeqGANConfig` (tyro, from the config's
dataclasses), the shared entry point of ``train/reinforce.py`` and ``train/ppo.py`` (parse, run, report), and the
loader the oracle diagnostics in ``train/`` share."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn, get_type_hints

import torch
import tyro

from agents.config import PRESETS, RENAMED, SeqGANConfig, flag, get, ignored_by, paths, preset_config, validate
from agents.run.pipeline import run
from agents.run.rundir import checkpoint_at, saved_config
from agents.run.task import Task, build_task


def _exit(prog: str, message: str) -> NoReturn:
    print(f"usage: {prog} [-h] [OPTIONS]\n{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def preset_arg(argv: Sequence[str]) -> str:
    """The ``--preset`` of ``argv`` (``--preset X`` or ``--preset=X``; default quick), checked."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--preset", default="quick", choices=list(PRESETS))
    return parser.parse_known_args(list(argv))[0].preset


def _renamed_flags(argv: Sequence[str]) -> list[str]:
    old = {flag(k): flag(v) for k, v in RENAMED.items()}
    old.update({flag(k, negated=True): flag(v, negated=True)
                for k, v in RENAMED.items() if isinstance(get(SeqGANConfig(), v), bool)})  # fmt: skip
    return [f"{a.split('=')[0]} was renamed {old[a.split('=')[0]]}" for a in argv if a.split("=")[0] in old]


def parse_args(argv: Sequence[str] | None = None, description: str = "", agent: str | None = None) -> SeqGANConfig:
    """Parse CLI flags into a validated :class:`SeqGANConfig`: the preset's values (``--preset``, default quick), then
    every ``--group.field`` flag given. ``agent``: the script's agent (its ``--agent`` flag is then refused)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = sys.argv[0].rsplit("/", 1)[-1] or "seqgan"
    renamed = _renamed_flags(argv)
    if renamed:
        _exit(prog, "; ".join(renamed))
    if agent is not None and any(a.split("=")[0] == "--agent" for a in argv):
        _exit(prog, f"--agent: this script trains the {agent} agent; run train/{{reinforce,ppo}}.py for another")
    default = preset_config(preset_arg(argv))
    if agent is not None:
        default = dataclasses.replace(default, agent=agent)  # type: ignore[arg-type]
    cls = script_config(agent)
    hidden = getattr(cls, "hidden_groups", ())
    other = [a.split("=")[0] for a in argv if any(a.startswith(f"--{g}.") for g in hidden)]
    if other:
        groups = ", ".join(f"--{g}.*" for g in hidden)
        _exit(prog, f"{', '.join(other)}: not used by this {agent} run (this script has no {groups} flags: they "
                    "belong to another agent's script)")  # fmt: skip
    parsed = tyro.cli(cls, default=cls(**_fields(default)), args=argv, description=description, prog=prog)
    cfg = SeqGANConfig(**_fields(parsed))
    try:
        return validate(cfg)
    except ValueError as exc:
        _exit(prog, str(exc))


def explicit_paths(argv: Sequence[str]) -> frozenset[str]:
    """The field paths whose flags appear in ``argv`` (``--adv.updates 40``, ``--adv.updates=40``,
    ``--adv.no-match-mle-diversity``): what the user set, whatever the value."""
    by_flag = {}
    for path in paths(SeqGANConfig()):
        by_flag[flag(path)] = path
        by_flag[flag(path, negated=True)] = path
    return frozenset(by_flag[a.split("=")[0]] for a in argv if a.split("=")[0] in by_flag)


def _fields(cfg: Any) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(SeqGANConfig)}


def script_config(agent: str | None) -> type:
    """:class:`SeqGANConfig` as a script for ``agent`` shows it: the groups that agent never reads (``--ppo.*`` for
    REINFORCE, ``--reinforce.*`` for PPO) and ``--agent`` itself are left out of ``--help`` (still refused if given:
    they are not flags of this script). ``SeqGANConfig`` itself for a script that takes ``--agent``."""
    if agent is None:
        return SeqGANConfig
    unused = set(ignored_by(agent))
    hints = get_type_hints(SeqGANConfig, include_extras=True)
    fields = []
    for f in dataclasses.fields(SeqGANConfig):
        hint = hints[f.name]
        sub = [f"{f.name}.{g.name}" for g in dataclasses.fields(hint)] if dataclasses.is_dataclass(hint) else []
        if f.name == "agent" or (sub and set(sub) <= unused):
            hint = Annotated[hint, tyro.conf.Suppress]
        default = {"default": f.default} if f.default is not dataclasses.MISSING else {}
        if f.default_factory is not dataclasses.MISSING:
            default = {"default_factory": f.default_factory}
        fields.append((f.name, hint, dataclasses.field(**default)))  # type: ignore[call-overload]
    cls = dataclasses.make_dataclass("SeqGANConfig", fields)
    cls.__module__, cls.__doc__ = SeqGANConfig.__module__, SeqGANConfig.__doc__
    cls.hidden_groups = tuple(name for name, hint, _ in fields  # type: ignore[attr-defined]
                              if getattr(hint, "__metadata__", None) and name != "agent")  # fmt: skip
    return cls


def main_for(agent: str, argv: Sequence[str] | None, description: str) -> dict[str, Any]:
    """Parse ``argv`` into a config for ``agent`` and run the pipeline; user errors exit with one line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_args(argv, description=description, agent=agent)
    try:
        return run(cfg, explicit=explicit_paths(argv))
    except (ValueError, FileNotFoundError, FileExistsError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:  # the run directory is a file, read-only, the disk is full, …: one line, the path and why
        where = exc.filename or (cfg.resume or cfg.run_dir or "the run directory")
        print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(2) from None


def oracle_run_or_exit(parser: argparse.ArgumentParser, path: str) -> tuple[dict[str, Any], SeqGANConfig, Task]:
    """The pretrained checkpoint of an oracle-task run (a run directory or a checkpoint file), its config and its
    task rebuilt on the CPU; a missing or unreadable checkpoint, or a real-text run, exits via ``parser.error``."""
    try:
        ckpt = checkpoint_at(path, "pretrained")
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    cfg = saved_config(ckpt)
    if cfg.task.data is not None:
        parser.error(f"{path} is a real-text run ({cfg.task.data}); {parser.prog} needs the oracle task")
    task = build_task(cfg, torch.device("cpu"))
    assert task.oracle is not None
    return ckpt, cfg, task

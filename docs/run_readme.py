"""Run README.md as written, at reduced sizes: every command (in code blocks and in the text) and every Python snippet,
so that no README line can drift from the code.

    python docs/run_readme.py              # everything that needs no network, cluster or long first parse (~5 min)
    python docs/run_readme.py --list       # each item, how it is reduced, or why it is not run
    python docs/run_readme.py -k generate  # only the items whose text contains "generate"
    python docs/run_readme.py --all        # also poems:quatrains (npm download) and music:folk (first parse)

How each item is reduced (the README's own flags are kept and the reductions appended, so they win):

- training scripts (``train/{reinforce,ppo,reference,compare,rllib_ppo}.py``): the test suite's tiny model and data
  sizes (:data:`TINY`; a corpus keeps its own data, an oracle file its vocabulary), 2 adversarial updates, one seed;
  ``--resume`` and ``--help`` lines run as written;
- placeholders become files this script makes first in a temporary directory: ``RUN_DIR`` and the README's example
  run names → one tiny run (with kept MLE epochs, for the frontier); ``target_params.npz`` → a stand-in in the
  official layout (random arrays of the official sizes, converted by ``python -m seqgan_env.oracle convert``: the
  real file is never committed); ``my_corpus.txt`` / ``poems.txt`` → a small corpus;
- benchmarks get ``--quick``; Python snippets run in one namespace, in order, with the same substitutions and
  ``my_actor_log_softmax`` defined as a uniform policy.

Not run (listed with the reason): installation lines (CI runs them), ``--address auto`` (needs a cluster),
``ray job submit``, table cells that show a bad input, and, without ``--all``, the datasets that download or take
minutes to parse the first time. Exits 1 if any item fails, printing its output.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pickle
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the snippets import the project as the README's reader would, from its checkout
README = ROOT / "README.md"

TINY = {
    "--device": "cpu", "--task.vocab-size": "60", "--task.seq-len": "6", "--task.n-train": "256",
    "--task.n-test": "64", "--generator.emb-dim": "8", "--generator.hidden-dim": "8", "--mle.epochs": "2",
    "--disc.size": "small", "--disc.emb-dim": "8", "--disc.negatives": "128", "--disc.pretrain-rounds": "1",
    "--disc.pretrain-epochs": "1", "--adv.updates": "2", "--env.num-envs": "8", "--env.n-rollouts": "2",
    "--eval.every": "1", "--eval.samples": "128", "--disc.report-samples": "64",
}  # fmt: skip
"""The reduced sizes appended to a training command (the suite's tiny run, as flags)."""

EXAMPLE_RUNS = ("runs/reinforce__quick__0__20261124-150000", "runs/my_run", "runs/my_pretrained_run", "RUN_DIR",
                "PRETRAIN_RUN")  # fmt: skip
OFFICIAL = "../shared/seqgan_oracle/target_params.npz"
NOT_RUN = {
    "pip install": "installation (CI runs it from a clean clone)",
    "-m venv": "installation (CI runs it from a clean clone)",
    "-m pytest": "the test suite (CI runs it)",
    "docs/run_readme.py": "this script itself",
    "--address auto": "needs a Ray cluster (README: start one with ray start)",
    "ray job submit": "needs a Ray head with the cluster extra (tests/test_rllib.py runs it, slow)",
    "ray start": "starts a Ray head (tests/test_rllib.py runs this block, slow)",
    "ray stop": "stops every Ray process of the machine (tests/test_rllib.py runs this block, slow)",
}
EXTRA = {
    "bench": ["--quick"],
    "disc_diagnostic": ["--rounds", "1", "--real", "64"],
    "self_imitation": ["--steps", "2", "--seeds", "0", "--samples", "128"],
    "oracle_stats": ["--samples", "256"],
}
"""What the other scripts get appended: their own smaller sizes."""
SLOW = {"poems:quatrains": "downloads chinese-poetry with npm (85 MB) the first time",
        "music:folk": "parses music21's folk corpus the first time (minutes)"}  # fmt: skip


@dataclass
class Item:
    kind: str  # "bash" or "python"
    text: str
    line: int
    skip: str | None = None
    argv: list[str] = field(default_factory=list)


def extract(readme: str) -> list[Item]:
    """Every command and snippet of the README, in order (continuation lines joined, duplicates once): the lines of
    ``bash`` blocks (indented ones too), ``python`` blocks whole, and inline ```python …``` spans of the text."""
    items: list[Item] = []
    lines = readme.splitlines()
    i, seen, prose = 0, set(), []
    while i < len(lines):
        fence = re.match(r"^\s*```(\w*)", lines[i])
        if not fence:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        lang, start, body = fence.group(1), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].lstrip().startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if lang == "python":
            indent = min((len(x) - len(x.lstrip()) for x in body if x.strip()), default=0)
            items.append(Item("python", "\n".join(x[indent:] for x in body), start + 1))
        elif lang == "bash":
            joined = "\n".join(body).replace("\\\n", " ")
            for n, cmd in enumerate(joined.splitlines()):
                cmd = " ".join(cmd.split())
                if cmd and cmd not in seen:
                    seen.add(cmd)
                    items.append(Item("bash", cmd, start + 1 + n))
    text = "\n".join(line for _, line in prose)
    starts = [n for n, _ in prose]
    for m in re.finditer(r"`((?:\.venv/bin/)?python [^`]+)`", text):
        cmd = " ".join(m.group(1).split())
        if cmd not in seen:
            seen.add(cmd)
            items.append(Item("bash", cmd, starts[text.count("\n", 0, m.start())]))
    return sorted(items, key=lambda it: it.line)


def plan(item: Item, files: dict[str, str], run_all: bool) -> None:
    """Decide how ``item`` runs (``item.argv``) at reduced sizes, or why it does not (``item.skip``)."""
    text = item.text
    command = text if item.kind == "python" else text.split(" # ")[0]  # a comment may name an install step
    for key, why in NOT_RUN.items():
        if key in command:
            item.skip = why
            return
    if not run_all:
        for key, why in SLOW.items():
            if key in text:
                item.skip = f"{why}: pass --all"
                return
    if item.kind == "python":
        return
    text = _substitute(text, files)
    if "…" in text or "..." in text:
        item.skip = "a template (… stands for arguments of the reader's choice)"
        return
    try:
        argv = shlex.split(text, comments=True)
    except ValueError as exc:
        item.skip = f"not a shell command ({exc})"
        return
    if len(argv) < 2 or Path(argv[0]).name != "python":
        item.skip = "not a python command"
        return
    if argv[1] == "-m":
        if len(argv) < 5:
            item.skip = "a mention of the command (its arguments are in the table beside it)"
            return
        item.argv = [sys.executable, *argv[1:]]
        return
    script = argv[1]
    if not (ROOT / script).is_file():
        item.skip = f"{script}: no such script"
        return
    args = argv[2:]
    name = Path(script).stem
    if name in ("reinforce", "ppo", "reference", "compare", "rllib_ppo") and not {"--help", "--resume"} & set(args):
        args = [*args, *_tiny(args, name)]
    else:
        args = [*args, *EXTRA.get("bench" if script.startswith("bench/") else name, [])]
    item.argv = [sys.executable, str(ROOT / script), *args]


def _substitute(text: str, files: dict[str, str]) -> str:
    for name in EXAMPLE_RUNS:
        text = text.replace(name, files["run"])
    text = text.replace(OFFICIAL, files["npz"])
    text = re.sub(r"runs/fast_(reinforce|ppo)_cal_s\{0,1,2\}", files["run"], text)
    text = text.replace("target_params.pkl target_params.npz", f"{files['pkl']} {files['npz2']}")
    text = text.replace("LABEL=RUN … --frontier", f"final={files['run']} --frontier")
    text = text.replace("[--oracle-params PATH]", f"--oracle-params {files['npz']}")
    text = text.replace("--task.oracle-params …", f"--task.oracle-params {files['npz']}")
    return re.sub(r"\s\[[^\]]*\]", "", text)  # [optional arguments] of a usage line: left out


def _tiny(args: list[str], name: str) -> list[str]:
    """The reduced-size flags for a training command: TINY less what its task or reward source does not read."""
    from agents.config import ignored_by_source

    out = dict(TINY)
    given = dict(itertools.pairwise(args))
    if "--task.data" in given:
        for k in ("--task.vocab-size", "--task.n-train", "--task.n-test"):
            out.pop(k)
        out["--task.seq-len"] = given.get("--task.seq-len", out["--task.seq-len"])
    if "--task.oracle-params" in given:
        out.pop("--task.vocab-size")
    source = given.get("--env.reward-source", "rollout")
    for key in ignored_by_source(source, given.get("--env.d-reward", "prob")):
        out.pop("--" + key.replace("_", "-"), None)
    if int(given.get("--adv.updates", 2)) < 2:  # a pretraining-only command stays one
        out.pop("--adv.updates")
    flat = [x for kv in out.items() for x in kv]
    if name == "compare":
        flat += ["--seeds", "0"] if "--seeds" not in given else []
    return flat


def make_files(tmp: Path) -> dict[str, str]:
    """The stand-ins for the README's placeholders, made in ``tmp``: a tiny run, the oracle files, a corpus."""
    import numpy as np

    from seqgan_env.oracle import OFFICIAL_ARRAYS

    rng = np.random.default_rng(0)
    v, e, h = 5000, 32, 32  # the official oracle's sizes
    gates = ("i", "f", "og", "c")
    shapes = {"embeddings": (v, e), "Wo": (h, v), "bo": (v,), **{f"W{g}": (e, h) for g in gates},
              **{f"U{g}": (h, h) for g in gates}, **{f"b{g}": (h,) for g in gates}}  # fmt: skip
    arrays = [rng.normal(scale=0.1, size=shapes[k]).astype(np.float32) for k in OFFICIAL_ARRAYS]
    (tmp / "target_params.pkl").write_bytes(pickle.dumps(arrays, protocol=2))
    files = {"pkl": str(tmp / "target_params.pkl"), "npz": str(tmp / "oracle.npz"), "npz2": str(tmp / "converted.npz")}
    _check([sys.executable, "-m", "seqgan_env.oracle", "convert", files["pkl"], files["npz"]], tmp)
    sentences = ["the cat sat on the mat .", "a dog ran in the park !", "we love our country .", "春眠不觉晓"] * 20
    for name in ("my_corpus.txt", "poems.txt"):
        (tmp / name).write_text("\n".join(sentences) + "\n", encoding="utf-8")
    files["run"] = str(tmp / "tiny_run")
    flat = [x for kv in TINY.items() for x in kv]
    _check([sys.executable, str(ROOT / "train/reinforce.py"), *flat, "--mle.keep-every", "1", "--run-dir",
            files["run"], "--no-progress"], tmp)  # fmt: skip
    return files


def _check(argv: list[str], cwd: Path) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=_env(), check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: setting up failed: {shlex.join(argv)}\n{done.stderr[-3000:]}")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


PRELUDE = """
import torch
def my_actor_log_softmax(obs):  # a uniform policy: the README's placeholder for a reader's actor
    return torch.full((obs.shape[0], 5000), -torch.log(torch.tensor(5000.0)))
"""


def run_snippet(item: Item, namespace: dict, files: dict[str, str]) -> None:
    code = _substitute(item.text, files)
    code = code.replace('from_preset("quick", {', 'from_preset("quick", {**TINY_CONFIG, ')
    exec(compile(code, f"README.md:{item.line}", "exec"), namespace)  # the README's own code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", action="store_true", help="print each item and how it runs; run nothing")
    p.add_argument("-k", default=None, help="only the items whose text contains this")
    p.add_argument("--all", action="store_true", help="also the datasets that download or parse for minutes")
    args = p.parse_args(argv)
    items = extract(README.read_text(encoding="utf-8"))
    if args.k:
        items = [it for it in items if args.k in it.text]
    with tempfile.TemporaryDirectory(prefix="readme_") as tmp_name:
        tmp = Path(tmp_name)
        placeholders = {"run": "RUN", "npz": "ORACLE.npz", "npz2": "CONVERTED.npz", "pkl": "target_params.pkl"}
        for it in items:
            plan(it, placeholders, args.all)
        if args.list:
            for it in items:
                how = f"skip: {it.skip}" if it.skip else ("snippet" if it.kind == "python" else shlex.join(it.argv[1:]))
                print(f"README.md:{it.line}: {it.text[:90]!r}\n    -> {how}")
            return 0
        print(f"setting up the placeholders' stand-ins in {tmp} …", flush=True)
        files = make_files(tmp)
        for it in items:
            it.skip, it.argv = None, []
            plan(it, files, args.all)
        tiny = {k.lstrip("-").replace("-", "_"): int(v) if v.isdigit() else v for k, v in TINY.items()}
        namespace: dict = {"TINY_CONFIG": {**tiny, "progress": False}}
        cwd = os.getcwd()
        os.chdir(tmp)
        exec(PRELUDE, namespace)
        failed, ran = [], 0
        try:
            for it in items:
                label = f"README.md:{it.line}"
                if it.skip:
                    print(f"SKIP {label}: {it.text[:70]!r} ({it.skip})", flush=True)
                    continue
                t0 = time.perf_counter()
                try:
                    if it.kind == "python":
                        run_snippet(it, namespace, files)
                        ok, output = True, ""
                    else:
                        done = subprocess.run(it.argv, cwd=tmp, capture_output=True, text=True, env=_env(),
                                              check=False, timeout=900)  # fmt: skip
                        ok, output = done.returncode == 0, done.stdout[-1500:] + done.stderr[-3000:]
                except Exception as exc:  # a snippet's error is the README's failure: report it, go on
                    ok, output = False, f"{type(exc).__name__}: {exc}"
                ran += 1
                print(f"{'ok  ' if ok else 'FAIL'} {label} ({time.perf_counter() - t0:.0f} s): {it.text[:80]!r}",
                      flush=True)  # fmt: skip
                if not ok:
                    failed.append((label, it.text, output))
        finally:
            os.chdir(cwd)
    for label, text, output in failed:
        print(f"\n=== {label}: {text}\n{output}")
    skipped = sum(1 for it in items if it.skip)
    print(f"\n{ran - len(failed)} of {ran} README items ran cleanly; {skipped} not run (reasons above)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

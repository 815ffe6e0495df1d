"""The folk-music task: ABC tunes → pitch tokens on an eighth-note grid, the nearest-reference MSE, MIDI output."""

from __future__ import annotations

import sys

import pytest

from seqgan_env.music import nearest_mse, pitches

ABC = """X:1
T:Fixture Reel
M:4/4
L:1/8
K:C
CDEF GABc|c2 B2 A2 G2|z2 E2 [CEG]2 D2|C8|CDEF GABc|c2 B2 A2 G2|z2 E2 [CEG]2 D2|C8|

X:2
T:Too Short
M:4/4
L:1/8
K:C
CDEF GABc|
"""  # two tunes in the ABC format music21's corpus uses, written by this project


def test_pitches_hold_the_previous_note_through_rests():
    assert pitches(["rest", "p60", "rest", "p62"]) == [60.0, 60.0, 60.0, 62.0]
    assert pitches(["rest", "rest"]) == [0.0, 0.0]


def test_nearest_mse_is_the_mean_squared_semitone_gap_to_the_nearest_reference():
    refs = [["p60"] * 4, ["p70"] * 4]
    assert nearest_mse([["p60"] * 4], refs, length=4) == 0.0
    assert nearest_mse([["p62", "p62", "p60", "p60"]], refs, length=4) == pytest.approx(2.0)  # (4 + 4 + 0 + 0) / 4
    assert nearest_mse([["p60"] * 4, ["p69"] * 4], refs, length=4) == pytest.approx((0 + 1) / 2)
    with pytest.raises(ValueError, match="at least one"):
        nearest_mse([], refs)


def test_abc_tunes_become_eighth_note_pitch_tokens_and_midi(tmp_path):
    pytest.importorskip("music21", reason="the music extra is not installed (pip install -e '.[music]')")
    import music21

    from seqgan_env.music import parse_tunes, write_midi

    path = tmp_path / "fixture.abc"
    path.write_text(ABC)
    tunes = parse_tunes([path], progress=False)
    assert len(tunes) == 1  # the 8-step tune is shorter than 32 steps: dropped
    tune = tunes[0]
    assert len(tune) == 32
    assert tune[:8] == ["p60", "p62", "p64", "p65", "p67", "p69", "p71", "p72"]
    assert tune[8:16] == ["p72", "p72", "p71", "p71", "p69", "p69", "p67", "p67"]  # quarter notes fill two steps
    assert tune[16:24] == ["rest", "rest", "p64", "p64", "p67", "p67", "p62", "p62"]  # a chord counts as its top note
    midi = write_midi([tune], tmp_path / "out.mid")
    back = music21.converter.parse(str(midi)).flatten().notes
    assert [n.pitch.midi for n in back][:4] == [60, 62, 64, 65]


def test_the_real_folk_corpus_parses(tmp_path):
    music21 = pytest.importorskip("music21", reason="the music extra is not installed (pip install -e '.[music]')")
    from seqgan_env.music import parse_tunes

    paths = sorted(p for p in music21.corpus.getCorePaths() if "/ryansMammoth/" in str(p))[:4]
    assert paths, "music21's corpus has no ryansMammoth collection"
    tunes = parse_tunes(paths, progress=False)
    assert tunes
    assert all(len(t) == 32 and all(x == "rest" or x[1:].isdigit() for x in t) for t in tunes)


def test_music_dataset_without_music21_is_one_clear_error(monkeypatch, tmp_path):
    from seqgan_env.text import CorpusConfig, load_corpus

    monkeypatch.setitem(sys.modules, "music21", None)  # as if the extra were not installed
    with pytest.raises(ValueError, match=r"pip install -e '.\[music\]'"):
        load_corpus(CorpusConfig(source="music:folk", seq_len=33))

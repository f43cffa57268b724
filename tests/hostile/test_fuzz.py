"""The command line against hostile and damaged files, each run in a child process with a time and
a memory limit (:mod:`tests.hostile.harness`): every crafted attack ends with a sentence, and every
damaged real file is either read or refused with one, never a crash, a hang, a traceback or a payload."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.cli import main
from tests.hostile import cases, mutate, seeds
from tests.hostile.harness import Studio


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    with Studio(tmp_path_factory.mktemp("hostile-work")) as server:
        yield server


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def originals(folder, tiny_model):
    return seeds.build(folder / "seeds", tiny_model)


def test_every_crafted_attack_ends_with_one_sentence(studio, folder, tiny_model):
    made = folder / "made"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "3", "--outdir", str(made)]) == 0
    attacks = cases.build(folder / "cases", tiny_model, made / "seed0003.png")
    marker = folder / "cases" / cases.MARKER_NAME
    assert len(attacks) >= 70
    wrong = []
    for attack in attacks:
        outcome = studio.run(attack.argv, marker=marker)
        allowed = ("refused",) if attack.expect == "refused" else ("refused", "accepted")
        if outcome.kind not in allowed:
            wrong.append(f"{attack.name}: {outcome.describe()}")
    assert not wrong, f"{len(wrong)} of {len(attacks)} attacks did not end with a sentence:\n" + "\n".join(wrong)


_EDITS = st.lists(st.tuples(st.sampled_from(mutate.OPS), st.integers(0, 2**32 - 1), st.integers(0, 255)),
                  min_size=1, max_size=4)


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["rosinality .pt", "studio .safetensors", "NVIDIA .pkl", "StyleGAN3 .pkl", "TF-era .pkl",
                             "PNG with a recipe", "recipe .json", "TIFF with a recipe"]), edits=_EDITS)
def test_damaged_real_files_are_read_or_refused(studio, originals, folder, kind, edits):
    original, template = originals[kind]
    damaged = folder / f"damaged{original.suffix}"
    damaged.write_bytes(mutate.apply(original.read_bytes(), edits))
    outcome = studio.run(seeds.argv_for(template, damaged, folder / "damaged-out.png"))
    assert outcome.kind in ("refused", "accepted"), f"{kind} after {edits}: {outcome.describe()}"

"""Tests for studio.gan.latents: seed syntax, z from seed, truncation, interpolation, mixing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.gan.latents import (
    MAX_SEED,
    lerp,
    mix_styles,
    one_hot,
    parse_indices,
    parse_seeds,
    slerp,
    truncate,
    z_from_seed,
    zs_from_seeds,
)

# -- seed syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", [5]),
        ("1-4,7", [1, 2, 3, 4, 7]),
        (" 1 - 3 , 10 ", [1, 2, 3, 10]),
        ("7,1-3", [7, 1, 2, 3]),  # order kept
        ("3,1-4,3", [3, 1, 2, 4]),  # first occurrence kept
        ("2,", [2]),  # trailing comma ignored
        ("4-4", [4]),
        (f"{MAX_SEED}", [MAX_SEED]),
    ],
)
def test_parse_seeds_valid(text: str, expected: list[int]) -> None:
    assert parse_seeds(text) == expected


def test_parse_seeds_large_range() -> None:
    assert parse_seeds("0-999") == list(range(1000))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("4-1", "backwards"),
        ("-3", "negative"),
        ("a", "not a seed"),
        ("1-b", "not a seed"),
        ("1 2", "not a seed"),
        ("", "no seeds"),
        (" , ", "no seeds"),
        ("0-1000000", "too many seeds"),  # 1,000,001 seeds
        ("0-500000,600000-1200000", "too many seeds"),
        (f"0-{2**40}", "out of range"),
        (str(MAX_SEED + 1), "out of range"),
    ],
)
def test_parse_seeds_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_seeds(text)


def test_parse_seeds_million_is_allowed() -> None:
    assert len(parse_seeds("0-999999")) == 1_000_000


def test_parse_indices() -> None:
    assert parse_indices("0-6") == list(range(7))
    assert parse_indices("0-6", upper=7) == list(range(7))
    assert parse_indices("8, 2", upper=14) == [8, 2]


def test_parse_indices_out_of_range_names_valid_range() -> None:
    with pytest.raises(ValueError, match="valid indices are 0-7"):
        parse_indices("0-8", upper=8)
    with pytest.raises(ValueError, match="backwards"):
        parse_indices("6-0", upper=8)
    with pytest.raises(ValueError, match="indices cannot be negative"):
        parse_indices("-1", upper=8)


# -- z and class labels ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 42, 123456, MAX_SEED])
def test_z_from_seed_matches_randomstate(seed: int) -> None:
    z = z_from_seed(seed, 512)
    reference = np.random.RandomState(seed).randn(1, 512).astype(np.float32)[0]
    assert z.dtype == np.float32
    assert z.shape == (512,)
    np.testing.assert_array_equal(z, reference)


def test_z_from_seed_rejects_bad_seeds() -> None:
    with pytest.raises(ValueError, match="out of range"):
        z_from_seed(-1, 8)
    with pytest.raises(ValueError, match="out of range"):
        z_from_seed(MAX_SEED + 1, 8)
    with pytest.raises(ValueError, match="whole number"):
        z_from_seed(1.5, 8)  # type: ignore[arg-type]


def test_zs_from_seeds_stacks_rows() -> None:
    zs = zs_from_seeds([3, 9], 16)
    assert zs.shape == (2, 16) and zs.dtype == np.float32
    np.testing.assert_array_equal(zs[1], z_from_seed(9, 16))
    assert zs_from_seeds([], 16).shape == (0, 16)


def test_one_hot() -> None:
    np.testing.assert_array_equal(one_hot(2, 4), np.array([0, 0, 1, 0], dtype=np.float32))
    assert one_hot(2, 4).dtype == np.float32
    assert one_hot(None, 0).shape == (0,)
    with pytest.raises(ValueError, match="0 to 3"):
        one_hot(4, 4)
    with pytest.raises(ValueError, match="0 to 3"):
        one_hot(-1, 4)
    with pytest.raises(ValueError, match="conditional"):
        one_hot(None, 4)


# -- truncation ------------------------------------------------------------------------------------


def _ws() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(2, 6, 4, generator=gen), torch.randn(4, generator=gen)


def test_truncate_psi_one_is_identity_and_input_untouched() -> None:
    ws, w_avg = _ws()
    before = ws.clone()
    out = truncate(ws, w_avg, 1.0)
    torch.testing.assert_close(out, ws)
    assert out is not ws
    torch.testing.assert_close(ws, before, rtol=0, atol=0)


def test_truncate_math_all_layers() -> None:
    ws, w_avg = _ws()
    out = truncate(ws, w_avg, 0.5)
    torch.testing.assert_close(out, w_avg + 0.5 * (ws - w_avg))
    torch.testing.assert_close(truncate(ws, w_avg, 0.0), w_avg.expand_as(ws).clone())


def test_truncate_cutoff_only_touches_first_layers() -> None:
    ws, w_avg = _ws()
    before = ws.clone()
    out = truncate(ws, w_avg, 0.7, cutoff=2)
    torch.testing.assert_close(out[:, :2], w_avg + 0.7 * (ws[:, :2] - w_avg))
    torch.testing.assert_close(out[:, 2:], ws[:, 2:], rtol=0, atol=0)
    torch.testing.assert_close(ws, before, rtol=0, atol=0)
    torch.testing.assert_close(truncate(ws, w_avg, 0.7, cutoff=0), ws, rtol=0, atol=0)


def test_truncate_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="N, num_ws, w_dim"):
        truncate(torch.zeros(6, 4), torch.zeros(4), 0.5)


# -- interpolation -----------------------------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_lerp_scalar_and_steps() -> None:
    a, b = np.zeros(3, np.float32), np.full(3, 2.0, np.float32)
    np.testing.assert_allclose(lerp(a, b, 0.25), np.full(3, 0.5))
    steps = lerp(a, b, [0.0, 0.5, 1.0])
    assert isinstance(steps, np.ndarray) and steps.shape == (3, 3)
    np.testing.assert_allclose(steps[:, 0], [0.0, 1.0, 2.0])
    ta, tb = torch.zeros(2, 3), torch.ones(2, 3)
    out = lerp(ta, tb, np.linspace(0, 1, 5))
    assert isinstance(out, torch.Tensor) and out.shape == (5, 2, 3)


def test_slerp_endpoints() -> None:
    rng = np.random.RandomState(0)
    a, b = rng.randn(4, 16).astype(np.float32), rng.randn(4, 16).astype(np.float32)
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-5)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-5)


def test_slerp_keeps_unit_norm() -> None:
    rng = np.random.RandomState(1)
    a, b = _unit(rng.randn(3, 8)), _unit(rng.randn(3, 8))
    path = slerp(a, b, np.linspace(0, 1, 7))
    assert path.shape == (7, 3, 8)
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1.0, atol=1e-6)
    # whereas lerp cuts through the sphere
    assert np.linalg.norm(lerp(a, b, 0.5), axis=-1).max() < 1.0


def test_slerp_midpoint_of_orthogonal_vectors() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    torch.testing.assert_close(slerp(a, b, 0.5), torch.tensor([0.5**0.5, 0.5**0.5]))


def test_slerp_parallel_falls_back_to_lerp() -> None:
    a = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    b = np.array([[2.0, 4.0, 6.0], [-1.0, 0.0, 0.0]])  # parallel, anti-parallel
    out = slerp(a, b, 0.5)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, lerp(a, b, 0.5))
    zero = slerp(np.zeros(3), np.ones(3), 0.5)
    np.testing.assert_allclose(zero, np.full(3, 0.5))


# -- style mixing --------------------------------------------------------------------------------


def test_mix_styles_grid_order_and_layers() -> None:
    # rows: R=2, cols: C=3, L=4 layers, D=2; values encode (who, layer)
    rows = torch.stack([torch.full((4, 2), 10.0 * (r + 1)) for r in range(2)])
    cols = torch.stack([torch.full((4, 2), -(c + 1.0)) for c in range(3)])
    rows_before = rows.clone()
    out = mix_styles(rows, cols, [1, 3])
    assert out.shape == (6, 4, 2)
    for r in range(2):
        for c in range(3):
            cell = out[r * 3 + c]
            assert torch.all(cell[[0, 2]] == 10.0 * (r + 1))
            assert torch.all(cell[[1, 3]] == -(c + 1.0))
    torch.testing.assert_close(rows, rows_before, rtol=0, atol=0)


def test_mix_styles_no_layers_and_numpy() -> None:
    rows = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    cols = -np.ones((1, 3, 2), dtype=np.float32)
    out = mix_styles(rows, cols, [])
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, rows)
    full = mix_styles(rows, cols, [0, 1, 2])
    np.testing.assert_array_equal(full, -np.ones((2, 3, 2)))


def test_mix_styles_errors() -> None:
    rows, cols = torch.zeros(2, 4, 2), torch.zeros(3, 4, 2)
    with pytest.raises(ValueError, match="0-3"):
        mix_styles(rows, cols, [4])
    with pytest.raises(ValueError, match="same L and D"):
        mix_styles(rows, torch.zeros(3, 5, 2), [0])

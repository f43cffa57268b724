"""``studio --self-test``: the installation checks pass in the source tree, one line each."""

from __future__ import annotations

from studio.cli import main


def test_the_self_test_passes_and_says_so_line_by_line(capsys, studio_home):
    assert main(["--self-test"]) == 0
    out = capsys.readouterr().out.splitlines()
    for name in ("model", "render", "export", "library", "window"):
        assert any(line.startswith(f"ok   {name}:") for line in out), out
    assert out[-1] == "self-test passed"
    assert not any(studio_home.rglob("*.sqlite"))          # the checks wrote into a folder of their own


def test_a_missing_model_fails_the_self_test_without_a_traceback(monkeypatch, tmp_path, capsys):
    from studio.gan import formats

    monkeypatch.setattr(formats, "DEFAULT_NETWORK_PATH", tmp_path / "missing.safetensors")
    assert main(["--self-test", "--no-window"]) == 1
    out = capsys.readouterr().out
    assert "FAIL model" in out and "SKIP render" in out and "Traceback" not in out

"""The zoo's index and names (amrkit.pretrained): install, verify, resolve, remove, on entries
of plain files (no model needed: this layer only reads and hashes files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit import pretrained
from amrkit.artifacts import resolve_model_path
from amrkit.errors import AmrkitError

FILES = ("run/run.json", "run/model.pt", "model_int8.onnx", "quantization.json", "card.json")


def stage(tmp: Path, tag: str = "a") -> Path:
    folder = tmp / f"stage-{tag}"
    for rel in FILES:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(f"{tag}:{rel}\n")
    return folder


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    root = tmp_path / "zoo"
    root.mkdir()
    pretrained.install_entry(stage(tmp_path, "a"), "alpha", {"summary": "A"}, root)
    pretrained.install_entry(stage(tmp_path, "b"), "beta", {"summary": "B"}, root)
    return root


def test_install_lists_hashes_and_resolves(zoo: Path, monkeypatch):
    assert pretrained.names(zoo) == ["alpha", "beta"]
    e = pretrained.verify("alpha", zoo)
    assert set(e.files) == set(FILES) and e.record["summary"] == "A"
    assert e.files["card.json"]["sha256"] == pretrained.file_sha256(zoo / "alpha" / "card.json")
    assert oct((zoo / "alpha").stat().st_mode & 0o777) != oct(0o700)  # not the private stage
    monkeypatch.setenv(pretrained.ENV_DIR, str(zoo))
    assert pretrained.resolve("zoo:alpha") == zoo / "alpha" / "run"
    assert pretrained.resolve("zoo:alpha:fp32") == zoo / "alpha" / "run"
    assert pretrained.resolve("zoo:beta:int8") == zoo / "beta" / "model_int8.onnx"
    assert resolve_model_path("zoo:beta:int8") == zoo / "beta" / "model_int8.onnx"
    assert resolve_model_path("some/run") == Path("some/run")  # other paths are untouched
    assert not list(zoo.glob(".*"))  # no staging folder or lock left behind


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: p.write_text("changed!\n"), "was modified"),
        (lambda p: p.write_text("x"), "bytes, the index says"),
        (lambda p: p.unlink(), "is missing"),
        (lambda p: (p.unlink(), p.symlink_to(p.parent / "run.json")), "is a link"),
    ],
    ids=["same-size-edit", "other-size", "missing", "symlink"],
)
def test_a_damaged_file_is_one_line_naming_it(zoo: Path, monkeypatch, damage, needle):
    monkeypatch.setenv(pretrained.ENV_DIR, str(zoo))
    target = zoo / "alpha" / "run" / "model.pt"
    original = target.read_text()
    if needle == "was modified":
        target.write_text(original[:-2] + "!\n")  # same size, other bytes
    else:
        damage(target)
    for ref in ("zoo:alpha", "zoo:alpha:int8"):
        with pytest.raises(AmrkitError) as exc:
            pretrained.resolve(ref)
        msg = str(exc.value)
        assert "\n" not in msg and str(target) in msg and needle in msg, msg
        assert "restore it" in msg and "amrkit zoo verify" in msg
    pretrained.verify("beta", zoo)  # the other entry is unaffected


@pytest.mark.parametrize(
    ("ref", "needle"),
    [
        ("zoo:", "names no zoo entry"),
        ("zoo:alpha:fp16", "variant 'fp16' is not one of fp32, int8"),
        ("zoo:alpa", "did you mean zoo:alpha"),
        ("zoo:gamma", "entries: alpha, beta"),
        ("zoo:../etc", "is not allowed"),
        ("zoo:a b", "is not allowed"),
    ],
)
def test_bad_names_are_one_line_errors(zoo: Path, monkeypatch, ref, needle):
    monkeypatch.setenv(pretrained.ENV_DIR, str(zoo))
    with pytest.raises(AmrkitError, match=None) as exc:
        pretrained.resolve(ref)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_an_empty_zoo_says_so(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(pretrained.ENV_DIR, str(tmp_path / "none"))
    assert pretrained.names() == []
    with pytest.raises(AmrkitError, match="holds no entry yet"):
        pretrained.resolve("zoo:optimized")


def test_what_a_name_opens_is_checked_against_the_caller(zoo: Path, monkeypatch):
    monkeypatch.setenv(pretrained.ENV_DIR, str(zoo))
    with pytest.raises(AmrkitError, match="needs a trained run: give zoo:alpha$"):
        resolve_model_path("zoo:alpha:int8", "run")
    with pytest.raises(AmrkitError, match="needs an ONNX file: give zoo:alpha:int8$"):
        resolve_model_path("zoo:alpha", "onnx")


def test_force_replaces_and_remove_deletes(zoo: Path, tmp_path: Path):
    with pytest.raises(AmrkitError, match="already has entry 'alpha'; pass --force"):
        pretrained.install_entry(stage(tmp_path, "c"), "alpha", {}, zoo)
    assert (tmp_path / "stage-c").is_dir()  # a refused install leaves its stage to the caller
    pretrained.install_entry(tmp_path / "stage-c", "alpha", {"summary": "C"}, zoo, force=True)
    assert pretrained.entry("alpha", zoo).record["summary"] == "C"
    assert (zoo / "alpha" / "card.json").read_text() == "c:card.json\n"
    assert pretrained.verify("alpha", zoo)
    pretrained.remove_entry("alpha", zoo)
    assert pretrained.names(zoo) == ["beta"] and not (zoo / "alpha").exists()
    assert sorted(p.name for p in zoo.iterdir()) == ["beta", "index.json"]


def test_an_orphan_folder_is_replaced_by_a_new_install(zoo: Path, tmp_path: Path):
    """A folder left by an add interrupted before the index was written is not an entry."""
    (zoo / "gamma").mkdir()
    (zoo / "gamma" / "junk").write_text("half-written")
    pretrained.install_entry(stage(tmp_path, "g"), "gamma", {}, zoo)
    assert not (zoo / "gamma" / "junk").exists() and pretrained.verify("gamma", zoo)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda i: i.update(schema="amrkit-zoo/0"), "is not 'amrkit-zoo/1'"),
        (lambda i: i.update(entries=[]), "no 'entries' table"),
        (lambda i: i["entries"]["alpha"].pop("files"), "no 'files' table"),
        (lambda i: i["entries"]["alpha"]["files"].pop("card.json"), "lacks card.json"),
        (
            lambda i: i["entries"]["alpha"]["files"].update(
                {"../x": {"sha256": "0" * 64, "bytes": 1}}
            ),
            "not a relative path",
        ),  # fmt: skip
        (
            lambda i: i["entries"]["alpha"]["files"]["card.json"].update(sha256="abc"),
            "without a SHA-256",
        ),  # fmt: skip
    ],
)
def test_a_damaged_index_is_one_line(zoo: Path, edit, needle):
    index = json.loads((zoo / "index.json").read_text())
    edit(index)
    (zoo / "index.json").write_text(json.dumps(index))
    with pytest.raises(AmrkitError) as exc:
        pretrained.names(zoo)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=30))
def test_any_text_is_a_name_an_error_or_not_a_zoo_name(text):
    try:
        parsed = pretrained.parse_ref(text)
    except AmrkitError as exc:
        assert text.startswith("zoo:") and "\n" not in str(exc)
        return
    if parsed is None:
        assert not text.startswith("zoo:") and not pretrained.is_ref(text)
    else:
        name, variant = parsed
        assert text in (f"zoo:{name}", f"zoo:{name}:{variant}") and variant in ("fp32", "int8")


def test_the_shipped_zoo_lives_in_the_package(monkeypatch):
    monkeypatch.delenv(pretrained.ENV_DIR, raising=False)
    assert pretrained.root() == Path(pretrained.__file__).resolve().parent
    monkeypatch.setenv(pretrained.ENV_DIR, "/somewhere/else")
    assert pretrained.root() == Path("/somewhere/else")
    assert os.fspath(pretrained.root()) == "/somewhere/else"

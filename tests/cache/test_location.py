"""Which directory the cache uses, and the directories it refuses."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs
import pytest

import webnn
from tests.cache import graphs
from webnn.cache import CacheDirectoryError


def test_option_overrides_env_overrides_platformdirs(tmp_path, monkeypatch):
    monkeypatch.delenv("WEBNN_CACHE_DIR", raising=False)
    default = webnn.ml.create_context("cpu")
    assert default.cache_dir == str(Path(platformdirs.user_cache_dir("webnn", appauthor=False)).absolute())
    monkeypatch.setenv("WEBNN_CACHE_DIR", str(tmp_path / "env"))
    assert webnn.ml.create_context("cpu").cache_dir == str(tmp_path / "env")
    ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "opt")
    assert ctx.cache_dir == str(tmp_path / "opt")
    ctx.save_graph("k", graphs.build(ctx, 0))
    assert (tmp_path / "opt" / "v1" / "index.sqlite3").exists()
    assert not (tmp_path / "env").exists()


def test_env_dir_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBNN_CACHE_DIR", str(tmp_path / "env"))
    ctx = webnn.ml.create_context("cpu")
    ctx.save_graph("k", graphs.build(ctx, 0))
    assert (tmp_path / "env" / "v1" / "index.sqlite3").exists()


def test_symlinked_dir_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    ctx = webnn.ml.create_context("cpu", cache_dir=link)
    with pytest.raises(CacheDirectoryError, match="symbolic link") as info:
        ctx.list_graphs()
    assert isinstance(info.value, webnn.NotSupportedError)
    with pytest.raises(CacheDirectoryError):
        ctx.save_graph("k", graphs.build(ctx, 0))
    assert list(real.iterdir()) == []


def test_symlinked_layout_dir_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (root / "v1").symlink_to(elsewhere)
    ctx = webnn.ml.create_context("cpu", cache_dir=root)
    with pytest.raises(CacheDirectoryError, match="symbolic link"):
        ctx.load_graph("k")


def test_foreign_owned_dir_refused(tmp_path):
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    foreign_uid = 65534 if os.geteuid() != 65534 else 65533
    if os.geteuid() == 0:
        os.chown(other, foreign_uid, -1)
    else:  # a directory some other user owns already
        other = Path("/")
        if os.lstat(other).st_uid == os.geteuid():
            pytest.skip("no directory owned by another user to test with")
    ctx = webnn.ml.create_context("cpu", cache_dir=other)
    with pytest.raises(CacheDirectoryError, match="owned by uid"):
        ctx.list_graphs()


def test_world_writable_root_without_sticky_bit_refused(tmp_path):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    ctx = webnn.ml.create_context("cpu", cache_dir=open_dir)
    with pytest.raises(CacheDirectoryError, match="writable by every user"):
        ctx.list_graphs()


def test_not_a_directory_refused(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    ctx = webnn.ml.create_context("cpu", cache_dir=file)
    with pytest.raises(CacheDirectoryError, match="not a directory"):
        ctx.list_graphs()


def test_loose_permissions_on_own_layout_dir_are_tightened(tmp_path):
    ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "c")
    ctx.save_graph("k", graphs.build(ctx, 0))
    ctx.destroy()
    os.chmod(tmp_path / "c" / "v1", 0o755)
    ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "c")
    assert ctx.list_graphs() == ["k"]
    assert stat.S_IMODE(os.stat(tmp_path / "c" / "v1").st_mode) == 0o700


def test_empty_cache_dir_option_is_a_type_error(tmp_path):
    ctx = webnn.ml.create_context("cpu", cache_dir="")
    with pytest.raises(TypeError, match="cache_dir"):
        ctx.list_graphs()

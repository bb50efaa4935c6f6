"""The config watcher sees edits, in-place rewrites and a ConfigMap-style symlink swap."""

from __future__ import annotations

import os
from pathlib import Path

from streams.worker.config_watch import WatchedFile


def configmap_volume(root: Path, content: str, generation: int) -> None:
    """What the kubelet does: write a new timestamped directory, then swap `..data` to it
    atomically (rename over the old symlink); `rules.toml` is a symlink through `..data`."""
    target = root / f"..2026_12_03_{generation:02d}"
    target.mkdir()
    (target / "rules.toml").write_text(content)
    temporary = root / "..data_tmp"
    temporary.symlink_to(target.name)
    os.replace(temporary, root / "..data")
    if not (root / "rules.toml").is_symlink():
        (root / "rules.toml").symlink_to("..data/rules.toml")


def test_a_configmap_symlink_swap_is_a_change(tmp_path: Path) -> None:
    configmap_volume(tmp_path, "a = 1\n", 1)
    watched = WatchedFile(tmp_path / "rules.toml")
    assert not watched.changed()
    configmap_volume(tmp_path, "a = 2\n", 2)
    assert watched.changed()
    assert not watched.changed()  # reported once
    configmap_volume(tmp_path, "a = 2\n", 3)  # same content, new directory: nothing to do
    assert not watched.changed()


def test_an_edit_in_place_and_a_vanished_file_are_changes_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("a = 1\n")
    watched = WatchedFile(path)
    path.write_text("a = 3\n")
    assert watched.changed()
    path.unlink()
    assert watched.changed()
    assert not watched.changed()
    path.write_text("a = 3\n")
    assert watched.changed()

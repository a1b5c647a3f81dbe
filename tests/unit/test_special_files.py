"""Issue 22.10: a FIFO is not "an empty file" and a broken symlink does not "point outside the
dataset folder": the scan names what each really is, and never opens a FIFO (it would block)."""

from __future__ import annotations

import os
import socket

from diagnostics.dataset import list_folder, scan
from diagnostics.dataset.inspect import _inspect
from tests.image_folders import tiny_png


def _folder(tmp_path):
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.png").write_bytes(tiny_png())
    return root


def _reasons(root):
    return {b["path"]: b["reason"] for b in list_folder(root).bad_files}


def test_a_fifo_is_named_a_fifo_not_an_empty_file(tmp_path, diag_home):
    root = _folder(tmp_path)
    os.mkfifo(root / "a" / "pipe.jpg")
    (root / "a" / "link_to_pipe.png").symlink_to("pipe.jpg")
    reasons = _reasons(root)
    for name in ("a/pipe.jpg", "a/link_to_pipe.png"):
        assert reasons[name] == "a named pipe (FIFO), not a regular file: the loaders cannot read it"
    result = scan(root, home=diag_home)  # returns: nothing opened the pipe
    assert [rel for rel, _ in result.files] == ["a/ok.png"]


def test_a_socket_is_named_a_socket(tmp_path):
    root = _folder(tmp_path)
    path = root / "a" / "s.png"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        assert _reasons(root)["a/s.png"] == "a socket, not a regular file: the loaders cannot read it"
    finally:
        server.close()


def test_a_broken_symlink_is_broken_wherever_it_pointed(tmp_path):
    root = _folder(tmp_path)
    (root / "a" / "absolute.jpg").symlink_to(tmp_path / "gone" / "x.jpg")
    (root / "a" / "relative.jpg").symlink_to("missing.jpg")
    outside = tmp_path / "outside.png"
    outside.write_bytes(tiny_png())
    (root / "a" / "escape.png").symlink_to(outside)
    reasons = _reasons(root)
    assert (
        reasons["a/absolute.jpg"]
        == f"broken symlink: target {str(tmp_path / 'gone' / 'x.jpg')!r} does not exist"
    )
    assert reasons["a/relative.jpg"] == "broken symlink: target 'missing.jpg' does not exist"
    assert reasons["a/escape.png"] == f"symlink points outside the dataset folder (to {outside})"


def test_inspecting_a_fifo_does_not_open_it(tmp_path):
    # A file replaced by a FIFO between the listing and the verification must not hang the pool.
    os.mkfifo(tmp_path / "late.jpg")
    assert _inspect(str(tmp_path / "late.jpg")) == (
        "a named pipe (FIFO), not a regular file: the loaders cannot read it"
    )

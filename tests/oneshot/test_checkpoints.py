"""One-shot checkpoints: a failed save keeps the previous file; a bad load is refused whole.

Saves go through ``nasnb._atomic`` (temporary file, fsync, rename), so a full disk leaves
the last good file. Loads read and check the whole file (trainer, space, weights,
optimizers, algorithm state, history) before changing anything, and refuse with one
:class:`CheckpointError` that names the file and lists every mismatch.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import os

import pytest
import torch
import torch.nn.functional as F

from nasnb.oneshot import (
    ArchHistory,
    ArchitectureCheckpoint,
    Checkpoint,
    DartsTrainer,
    EnasTrainer,
    ModelCheckpoint,
    ProxylessTrainer,
    SPOSTrainer,
    TrainingError,
    accuracy,
)
from nasnb.oneshot._base import CheckpointError

from ._nets import OpNet, TinyNet, digits


def _darts(net=None, epochs=1, opt=None, **kw):
    train, _ = digits(n_train=128)
    net = net or TinyNet()
    opt = opt or torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return DartsTrainer(net, F.cross_entropy, accuracy, opt, epochs, train, batch_size=64, progress=False, **kw)


def _spos(net=None, epochs=1, **kw):
    train, _ = digits(n_train=128)
    net = net or TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return SPOSTrainer(net, F.cross_entropy, accuracy, opt, epochs, train, batch_size=64, progress=False, **kw)


def _snapshot(t):
    """Everything a load could change (weights, optimizers, algorithm state, history, epoch, RNGs)."""
    return copy.deepcopy(t.state_dict())


def _assert_same(a, b, where="state"):
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


# ======================================================================== saving
def _fake_full_disk_save(obj, f, *args, **kwargs):
    """torch.save that gets a few bytes out, then hits a full disk."""
    with contextlib.ExitStack() as stack:
        if isinstance(f, (str, os.PathLike)):
            f = stack.enter_context(open(f, "wb"))
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")


def _torch_writers(tmp_path):
    """(name, make a trainer with the callback, path written, write again) for each torch writer."""
    return {
        "save_checkpoint": (lambda: _darts(), tmp_path / "c.pt", lambda t: t.save_checkpoint(tmp_path / "c.pt")),
        "Checkpoint": (lambda: _darts(callbacks=[Checkpoint(tmp_path)]), tmp_path / "checkpoint.pt",
                       lambda t: t.callbacks[0].on_epoch_end(0, {})),
        "ModelCheckpoint": (lambda: _darts(callbacks=[ModelCheckpoint(tmp_path)]), tmp_path / "epoch_0.pth.tar",
                            lambda t: t.callbacks[0].on_epoch_end(0, {})),
    }


@pytest.mark.parametrize("writer", ["save_checkpoint", "Checkpoint", "ModelCheckpoint"])
def test_a_failed_torch_save_keeps_the_previous_file(writer, tmp_path, monkeypatch):
    """Before: torch.save wrote over the file in place; a full disk left a truncated checkpoint."""
    make, path, write = _torch_writers(tmp_path)[writer]
    t = make()
    t.train()
    write(t)
    good = path.read_bytes()
    files = _listing(tmp_path)
    with torch.no_grad():
        next(t.model.parameters()).add_(1.0)  # the next save has different content
    monkeypatch.setattr(torch, "save", _fake_full_disk_save)
    with pytest.raises(OSError, match="No space left"):
        write(t)
    assert path.read_bytes() == good
    assert _listing(tmp_path) == files  # no temporary file left behind
    monkeypatch.undo()
    write(t)  # and a later save works and replaces it
    assert path.read_bytes() != good and _listing(tmp_path) == files


@contextlib.contextmanager
def _disk_full_after(nbytes):
    """Any file write past ``nbytes`` fails with EFBIG, like a disk that fills up midway."""
    resource = pytest.importorskip("resource")
    signal = pytest.importorskip("signal")
    if not hasattr(signal, "SIGXFSZ"):
        pytest.skip("needs RLIMIT_FSIZE / SIGXFSZ (POSIX)")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


def _history(n_records):
    h = ArchHistory({"op": ["conv", "pool"], "act": ["relu", "tanh", "gelu"]}, kind="softmax")
    for i in range(n_records):
        h.append({"op": [0.5, 0.5], "act": [0.2, 0.3, 0.5]}, step=i, epoch=i / 10)
    return h


@pytest.mark.parametrize("writer", ["history", "ArchitectureCheckpoint", "save_checkpoint", "ModelCheckpoint"])
def test_a_disk_that_fills_up_midway_keeps_the_previous_file(writer, tmp_path):
    """Before: every writer truncated the old file first; running out of space left half a file."""
    if writer == "history":
        path = tmp_path / "h.json"
        _history(3).save(path)
        save = lambda: _history(50).save(path)  # noqa: E731
    else:
        callbacks = {"ArchitectureCheckpoint": [ArchitectureCheckpoint(tmp_path)],
                     "ModelCheckpoint": [ModelCheckpoint(tmp_path)]}.get(writer, [])
        t = _darts(callbacks=callbacks)
        t.train()
        if writer == "save_checkpoint":
            path = tmp_path / "c.pt"
            t.save_checkpoint(path)
            save = lambda: t.save_checkpoint(path)  # noqa: E731
        else:
            path = tmp_path / ("epoch_0.json" if writer == "ArchitectureCheckpoint" else "epoch_0.pth.tar")
            save = lambda: t.callbacks[0].on_epoch_end(0, {})  # noqa: E731
    good = path.read_bytes()
    files = _listing(tmp_path)
    with _disk_full_after(16):
        with pytest.raises((OSError, RuntimeError)):
            save()
    assert path.read_bytes() == good
    assert _listing(tmp_path) == files


def test_history_round_trips_through_an_atomic_save(tmp_path):
    h = _history(4)
    h.save(tmp_path / "h.json")
    back = ArchHistory.load(tmp_path / "h.json")
    assert back.to_dict() == h.to_dict() and _listing(tmp_path) == ["h.json"]


# ======================================================================= loading
@pytest.fixture
def trained():
    """A DARTS trainer one epoch in (optimizer state, alphas, history all non-trivial)."""
    t = _darts()
    t.train()
    return t


def _refused(t, path, *fragments):
    before = _snapshot(t)
    with pytest.raises(CheckpointError) as info:
        t.load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    _assert_same(before, _snapshot(t))  # weights, epoch, optimizers, history, RNGs: all as they were
    assert isinstance(info.value, TrainingError)
    assert len(message) < 6000
    return info.value


def test_a_checkpoint_of_another_model_is_refused_and_changes_nothing(trained, tmp_path):
    """Before: matching weights were copied, then a RuntimeError; size mismatches half-applied the load."""
    other = _darts(TinyNet(dim=16))
    other.train()
    other.save_checkpoint(tmp_path / "small.pt")
    err = _refused(trained, tmp_path / "small.pt", "size mismatch", "'stem.weight'", "(16, 64)", "(32, 64)",
                   "the trainer was not changed")
    assert err.path == str(tmp_path / "small.pt")
    assert any("stem.weight" in p for p in err.problems)
    assert trained.epoch == 1


def test_a_checkpoint_of_another_trainer_is_refused_and_changes_nothing(trained, tmp_path):
    """Before: weights, optimizer, epoch and history were overwritten, then KeyError: 'alphas'."""
    spos = _spos()
    spos.train()
    spos.save_checkpoint(tmp_path / "spos.pt")
    _refused(trained, tmp_path / "spos.pt", "SPOSTrainer", "DartsTrainer", "'alphas'")
    assert trained.epoch == 1


def test_a_checkpoint_of_another_space_lists_every_key(trained, tmp_path):
    other = _darts(OpNet())
    other.train()
    other.save_checkpoint(tmp_path / "opnet.pt")
    err = _refused(trained, tmp_path / "opnet.pt", "space", "'op'", "'act'", "missing", "unexpected")
    assert len(err.problems) >= 3  # space keys, model keys, alphas keys: all reported at once


def test_changed_candidates_are_named(tmp_path):
    from collections import OrderedDict

    from torch import nn

    from nasnb import mutables

    def net(names):
        return nn.Sequential(nn.Linear(64, 8), mutables.LayerChoice(OrderedDict((n, nn.ReLU()) for n in names),
                                                                    key="act"), nn.Linear(8, 10))

    a = _darts(net(["relu", "tanh"]))
    a.save_checkpoint(tmp_path / "a.pt")
    b = _darts(net(["relu", "gelu"]))
    _refused(b, tmp_path / "a.pt", "'act'", "'tanh'", "'gelu'")


def test_optimizer_groups_and_class_are_checked(trained, tmp_path):
    """Before: SGD state went into an Adam (KeyError 'betas' at the next step); a group-size
    mismatch raised a bare ValueError after the weights were already loaded."""
    trained.save_checkpoint(tmp_path / "c.pt")
    net = TinyNet()
    params = list(net.parameters())
    two_groups = torch.optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.05, momentum=0.9)
    t = _darts(net, opt=two_groups)
    _refused(t, tmp_path / "c.pt", "optimizer", "2 parameter groups", "1 in the file")

    net = TinyNet()
    t = _darts(net, opt=torch.optim.Adam(net.parameters()))
    t.train()
    _refused(t, tmp_path / "c.pt", "optimizer", "momentum", "betas")


def test_history_and_algorithm_state_are_checked(trained, tmp_path):
    state = trained.state_dict()
    state["history"] = copy.deepcopy(state["history"])
    state["history"]["names"]["ghost"] = ["a", "b"]
    state["history"]["records"][0]["weights"]["op_a"] = [1.0]
    state["algorithm"]["alphas"] = dict(state["algorithm"]["alphas"], act=torch.zeros(7))
    torch.save(state, tmp_path / "edited.pt")
    _refused(trained, tmp_path / "edited.pt", "history", "'ghost'", "'act'", "(7,)", "(3,)")


def test_problems_in_many_places_are_listed_together(trained, tmp_path):
    state = trained.state_dict()
    state["model"] = {k: v for k, v in state["model"].items() if not k.startswith("head.")}
    state["epoch"] = "one"
    torch.save(state, tmp_path / "c.pt")
    err = _refused(trained, tmp_path / "c.pt", "'head.weight'", "'head.bias'", "epoch", "'one'")
    assert len(err.problems) >= 2


class _Opaque:
    """Not a tensor or plain data: weights_only loading refuses it."""


def _model_checkpoint_file(path):
    torch.save(TinyNet().state_dict(), path)


@pytest.mark.parametrize(("content", "fragments"), [
    (b"", ["empty (0 bytes)", "truncated"]),
    ("half", ["truncated"]),
    (b'{"op": "conv"}\n', ["not a nasnb checkpoint"]),
    (b"\x00\x01garbage" * 50, ["not a nasnb checkpoint"]),
    ("state_dict", ["not a nasnb checkpoint", "model state_dict", "ModelCheckpoint"]),
    ("list", ["not a nasnb checkpoint", "list"]),
    ("object", ["not a nasnb checkpoint", "Python objects", "_Opaque"]),
    ("partial", ["not a nasnb checkpoint", "'algorithm'"]),
])
def test_truncated_empty_and_foreign_files_get_a_clear_error(content, fragments, trained, tmp_path):
    """Before: EOFError, 'PytorchStreamReader failed reading zip archive', UnpicklingError or KeyError."""
    path = tmp_path / "c.pt"
    if content == "half":
        trained.save_checkpoint(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "state_dict":
        _model_checkpoint_file(path)
    elif content == "object":
        torch.save({"model": _Opaque()}, path)
    elif content == "list":
        torch.save([1, 2, 3], path)
    elif content == "partial":
        state = trained.state_dict()
        del state["algorithm"]
        torch.save(state, path)
    else:
        path.write_bytes(content)
    _refused(trained, path, *fragments)


def test_a_missing_file_is_still_a_plain_file_not_found(trained, tmp_path):
    with pytest.raises(FileNotFoundError):
        trained.load_checkpoint(tmp_path / "nope.pt")


def test_load_state_dict_checks_too(trained):
    other = _spos()
    before = _snapshot(trained)
    with pytest.raises(CheckpointError, match="SPOSTrainer") as info:
        trained.load_state_dict(other.state_dict())
    assert "state dict" in str(info.value)
    _assert_same(before, _snapshot(trained))


# ------------------------------------------------------------ good loads still load
def _enas(net=None):
    train, _ = digits(n_train=128)
    return EnasTrainer(net or TinyNet(), F.cross_entropy, dataset_train=train, batch_size=64, controller_steps=1,
                       progress=False)


def _proxyless(net=None):
    train, _ = digits(n_train=128)
    return ProxylessTrainer(net or TinyNet(), F.cross_entropy, dataset_train=train, batch_size=64, cost="params",
                            progress=False)


@pytest.mark.parametrize("make", [_darts, _spos, _enas, _proxyless], ids=["darts", "spos", "enas", "proxyless"])
def test_every_trainer_resumes_from_its_own_checkpoint(make, tmp_path):
    t = make()
    t.train()
    if isinstance(t, SPOSTrainer):
        t.search(population=4, generations=1, data=digits(n_train=128)[0], seed=1)
    t.save_checkpoint(tmp_path / "c.pt")
    torch.manual_seed(7)
    fresh = make()  # fresh weights, an optimizer without state
    if isinstance(fresh, SPOSTrainer):  # a searched trainer loading another search's result
        fresh.train()
        fresh.search(population=4, generations=1, data=digits(n_train=128)[0], seed=2)
    fresh.load_checkpoint(tmp_path / "c.pt")
    _assert_same(t.state_dict(), fresh.state_dict())
    assert fresh.export() == t.export()


def test_a_checkpoint_without_the_nasnb_header_still_loads(trained, tmp_path):
    """Files written before checkpoints carried the trainer and space (older nasnb) load as before."""
    state = trained.state_dict()
    state.pop("nasnb", None)
    torch.save(state, tmp_path / "old.pt")
    fresh = _darts(epochs=2)
    fresh.load_checkpoint(tmp_path / "old.pt")
    assert fresh.epoch == 1
    for k in trained.alphas:
        assert torch.equal(trained.alphas[k], fresh.alphas[k])
    spos = _spos()
    spos.train()
    state = spos.state_dict()
    state.pop("nasnb", None)
    torch.save(state, tmp_path / "spos.pt")
    _refused(fresh, tmp_path / "spos.pt", "'alphas'")  # still refused: the algorithm state does not fit


def test_a_module_that_refuses_its_weights_while_applying_is_reported(trained, tmp_path, monkeypatch):
    """Checks pass but a custom load hook raises: the error says the trainer may be partly restored."""
    trained.save_checkpoint(tmp_path / "c.pt")
    fresh = _darts()

    def refuse(*args, **kwargs):
        raise RuntimeError("this module cannot load weights today")

    monkeypatch.setattr(fresh.model.head, "_load_from_state_dict", refuse)
    with pytest.raises(CheckpointError, match="may be partly restored: build a new one") as info:
        fresh.load_checkpoint(tmp_path / "c.pt")
    assert "cannot load weights today" in str(info.value) and fresh.epoch == 0

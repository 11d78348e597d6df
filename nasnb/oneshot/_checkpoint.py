"""Checkpoints of the one-shot trainers: write, and read back only what fits.

:class:`CheckpointMixin` gives a trainer ``state_dict``/``load_state_dict`` and
``save_checkpoint``/``load_checkpoint``. Loading checks the whole state against the
trainer first (header, space, weight names and shapes, optimizer groups and state,
algorithm state, history, RNG states) and raises one :class:`CheckpointError` listing
every mismatch before anything is changed, as ``nn.Module.load_state_dict`` does.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .._atomic import save_with
from ..exceptions import MAX_QUOTE as _MAX_QUOTE
from ..exceptions import CheckpointError, NasnbError
from ..exceptions import short_repr as _quote
from ..space import SearchSpace
from .history import ArchHistory

__all__ = ["CheckpointMixin"]


def _some(items: Sequence[Any], n: int = 8) -> str:
    """A short list of names: the first ``n`` and how many more."""
    items = list(items)
    head = _quote(items[:n])
    return head if len(items) <= n else f"{head[:-1]}, ... and {len(items) - n} more]"


def _key_problems(where: str, saved: Mapping[str, Any], current: Mapping[str, Any],
                  add: Callable[[str, str], None], mine: str = "this trainer") -> None:
    """Report the keys only ``mine`` has (missing) and those only the file has (unexpected)."""
    missing = [k for k in current if k not in saved]
    unexpected = [k for k in saved if k not in current]
    if missing:
        add(where, f"missing keys {_some(missing)} (in {mine}, not in the file)")
    if unexpected:
        add(where, f"unexpected keys {_some(unexpected)} (in the file, not in {mine})")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= _MAX_QUOTE else f"{line[:_MAX_QUOTE - 3]}..."


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


#: Entries every checkpoint has (older nasnb files too).
_REQUIRED = ("model", "optimizer", "epoch", "global_step", "history", "algorithm", "rng", "generator", "torch_rng")
#: The ``"nasnb"`` header entry of a checkpoint.
_FORMAT, _VERSION = "nasnb.oneshot checkpoint", 1
#: Per-parameter optimizer state that has the parameter's shape (SGD, Adam(W), RMSprop, Adagrad, Adadelta, Rprop).
_PARAM_SHAPED = frozenset({"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg",
                           "acc_delta", "sum", "prev", "step_size", "ax"})

class CheckpointMixin:
    """Save and resume a one-shot trainer (mixed into :class:`~nasnb.oneshot.OneShotTrainer`).

    The trainer provides the attributes below and the hooks ``_algo_state`` (algorithm
    state: alphas, controller, counts, ...) and ``_load_algo_state``.
    """

    space: SearchSpace
    model: nn.Module
    optimizer: torch.optim.Optimizer | None
    history: ArchHistory
    epoch: int
    global_step: int
    rng: random.Random
    generator: torch.Generator

    def _algo_state(self) -> dict[str, Any]:
        return {}

    def _load_algo_state(self, state: Mapping[str, Any]) -> None:
        pass

    #: Algorithm-state entries holding a readable architecture (or None), such as SPOS's
    #: ``best``: a checkpoint's value is checked with ``space.validate``, not by structure.
    _checkpoint_architectures: tuple[str, ...] = ("best",)

    def _algorithm_name(self) -> str:
        """The algorithm that writes and reads this trainer's checkpoints (a user subclass
        of DartsTrainer reads DARTS checkpoints)."""
        for cls in type(self).__mro__:
            module = cls.__module__
            if module.startswith("nasnb.oneshot.") and not module.startswith("nasnb.oneshot._"):
                return cls.__name__
        return type(self).__name__

    def _space_description(self) -> dict[str, dict[str, Any]]:
        return {k: {"kind": s.kind, "candidates": list(s.names), "n_chosen": s.n_chosen} for k, s in self.space.items()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizers, architecture state, history, RNGs.

        The ``"nasnb"`` entry names the format, the trainer and the space, so that a load
        can refuse a checkpoint of another algorithm or model before changing anything.
        """
        return {
            "nasnb": {"format": _FORMAT, "version": _VERSION, "trainer": self._algorithm_name(),
                      "space": self._space_description()},
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": self.history.to_dict(),
            "algorithm": self._algo_state(),
            "rng": self.rng.getstate(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; :meth:`train` then continues from its epoch.

        Everything is checked before anything is changed.

        Raises
        ------
        CheckpointError
            ``state`` was written by another trainer or for another model (listing every
            mismatch); the trainer is left as it was.
        """
        self._load_checked(state, "state dict", None)

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to ``path`` (``torch.save``), atomically: a failed
        write (a full disk, a crash) leaves the previous file as it was.

        Under ``torch.distributed`` every rank calls it and rank 0 writes (the ranks hold
        the same state); all return once the file is there."""
        dist = getattr(self, "dist", None)
        if dist is None or dist.is_main:
            state = self.state_dict()
            save_with(path, lambda f: torch.save(state, f))
        if dist is not None:
            dist.barrier()

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Resume from a file written by :meth:`save_checkpoint` (or the Checkpoint callback).

        The whole file is read and checked against this trainer (algorithm, space, weight
        names and shapes, optimizer groups, algorithm state, history) before anything is
        changed; :meth:`train` then continues from the checkpoint's epoch.

        Raises
        ------
        CheckpointError
            The file is empty, truncated or not a nasnb checkpoint, or was written by
            another trainer or for another model; the message names the file and lists
            every mismatch, and the trainer is left as it was.
        OSError
            The file cannot be opened (missing, a folder, no permission).
        """
        where = os.fspath(path)
        source = f"checkpoint '{where}'"
        with open(where, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(4)
            f.seek(0)
            reason = None
            if size == 0:
                reason = ("it is empty (0 bytes): truncated, e.g. by a save interrupted by a crash or a full disk; "
                          "expected a file written by save_checkpoint or the Checkpoint callback")
            else:
                try:
                    state = torch.load(f, map_location="cpu", weights_only=True)
                except MemoryError:
                    raise
                except Exception as err:  # noqa: BLE001 - torch/pickle raise many kinds for a bad file
                    reason = _unreadable(err, head, size)
        if reason is not None:
            raise CheckpointError(source, type(self).__name__, [("file", reason)], path=where)
        self._load_checked(state, source, where)

    def _load_checked(self, state: Any, source: str, path: str | None) -> None:
        try:
            problems, history, generator_ok = self._state_problems(state)
        except Exception as err:  # noqa: BLE001 - a file malformed in a way no check foresaw
            problems = [("file", f"not a nasnb checkpoint: checking it failed with {type(err).__name__}: "
                                 f"{_first_line(err)}")]
        if problems:
            raise CheckpointError(source, type(self).__name__, problems, path=path)
        if history is None:  # every check that rebuilds no history reports a problem: cannot happen
            raise CheckpointError(source, type(self).__name__, [("history", "could not be rebuilt")], path=path)
        try:
            self.model.load_state_dict(state["model"])
            if self.optimizer is not None:
                self.optimizer.load_state_dict(state["optimizer"])
            self._load_algo_state(state["algorithm"])
        except Exception as err:  # noqa: BLE001 - checked above; a custom module hook may still refuse
            raise CheckpointError(source, type(self).__name__, [("apply", f"{type(err).__name__}: {_first_line(err)}")],
                                  path=path, changed=True) from err
        self.history = history
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.rng.setstate(_as_tuple(state["rng"]))
        if generator_ok:
            self.generator.set_state(state["generator"].cpu())
        else:
            warnings.warn(f"{source}: its sampling generator state ({state['generator'].numel()} bytes) is for "
                          f"another device type than {self.generator.device.type!r}; the generator keeps its "
                          f"current state, so the resumed run is not bit-identical to an uninterrupted one",
                          RuntimeWarning, stacklevel=3)
        torch.set_rng_state(state["torch_rng"].cpu())

    # ------------------------------------------------------ checkpoint checks
    def _state_problems(self, state: Any) -> tuple[list[tuple[str, str]], ArchHistory | None, bool]:
        """Every way ``state`` does not fit this trainer; the rebuilt history; whether the generator state fits."""
        if not isinstance(state, Mapping):
            return [("file", f"not a nasnb checkpoint: it holds a {type(state).__name__} ({_quote(state, 80)}), "
                             f"expected the dict that save_checkpoint writes")], None, False
        if state and all(torch.is_tensor(v) for v in state.values()):
            return [("file", f"not a nasnb checkpoint: it holds a model state_dict ({len(state)} tensors, e.g. "
                             f"{_quote(next(iter(state)))}), as ModelCheckpoint writes; load that with "
                             f"trainer.model.load_state_dict(torch.load(path)), or resume from the file the "
                             f"Checkpoint callback or save_checkpoint writes")], None, False
        missing = [k for k in _REQUIRED if k not in state]
        if missing:
            return [("file", f"not a nasnb checkpoint: it has no {_some(missing)} entries (it has "
                             f"{_some(list(state))}); expected a file written by save_checkpoint")], None, False
        problems: list[tuple[str, str]] = []

        def add(where: str, what: str) -> None:
            problems.append((where, what))

        space_checked = self._header_problems(state.get("nasnb"), add)
        self._state_dict_problems("model", state["model"], self.model.state_dict(), add)
        self._optimizer_problems("optimizer", state["optimizer"], self.optimizer, add)
        self._algo_problems(state["algorithm"], add)
        history = self._history_problems(state["history"], add, names=not space_checked)
        generator_ok = self._counter_and_rng_problems(state, add)
        return problems, history, generator_ok

    def _header_problems(self, header: Any, add: Callable[[str, str], None]) -> bool:
        """Check the ``"nasnb"`` header (if any); True if its space was compared and differs."""
        if header is None:
            return False
        me = self._algorithm_name()
        if not isinstance(header, Mapping) or header.get("format") != _FORMAT:
            add("nasnb", f"got {_quote(header)}, expected the header {{'format': {_FORMAT!r}, ...}}")
            return False
        if not isinstance(header.get("version"), int) or header["version"] > _VERSION:
            add("nasnb", f"format version {_quote(header.get('version'))}: written by a newer nasnb; this one "
                         f"reads version {_VERSION}")
            return False
        if header.get("trainer") != me:
            writer = header.get("trainer")
            writer = writer if isinstance(writer, str) and writer.isidentifier() else _quote(writer)
            add("trainer", f"written by a {writer}, this is a {me}; a checkpoint resumes the algorithm "
                           f"that wrote it")
        differs = False

        def add_space(where: str, what: str) -> None:
            nonlocal differs
            differs = True
            add(where, what)

        return self._space_problems(header.get("space"), add_space) and differs

    def _counter_and_rng_problems(self, state: Mapping[str, Any], add: Callable[[str, str], None]) -> bool:
        """Check the step counters and RNG states; True if the sampling generator's state fits this device."""
        for name in ("epoch", "global_step"):
            v = state[name]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                add(name, f"got {_quote(v)}, expected an int >= 0")
        try:
            random.Random().setstate(_as_tuple(state["rng"]))
        except (TypeError, ValueError) as err:
            add("rng", f"got {_quote(state['rng'], 80)}, expected Python's random.getstate() ({_first_line(err)})")
        generator_ok = False
        for name in ("generator", "torch_rng"):
            v = state[name]
            if not torch.is_tensor(v) or v.dtype != torch.uint8 or v.dim() != 1:
                add(name, f"got {_quote(v, 80)}, expected a generator state (a 1-d uint8 tensor)")
            elif name == "torch_rng" and v.numel() != torch.get_rng_state().numel():
                add(name, f"a state of {v.numel()} bytes, expected {torch.get_rng_state().numel()} "
                          f"(torch.get_rng_state())")
            elif name == "generator":
                try:
                    torch.Generator(device=self.generator.device).set_state(v.cpu())
                    generator_ok = True
                except (RuntimeError, ValueError):
                    pass  # saved on another device type: resumed with a warning
        return generator_ok

    def _space_problems(self, saved: Any, add: Callable[[str, str], None]) -> bool:
        """Compare the header's space with this one; True if it could be compared."""
        if not isinstance(saved, Mapping):
            add("space", f"got {_quote(saved)}, expected key -> {{'kind', 'candidates', 'n_chosen'}}")
            return False
        mine = self._space_description()
        _key_problems("space", saved, mine, add, mine="this model's space")
        for key, want in mine.items():
            got = saved.get(key)
            if key not in saved:
                continue
            if not isinstance(got, Mapping):
                add(f"space {_quote(key)}", f"got {_quote(got)}, expected {_quote(want)}")
                continue
            for field in ("kind", "candidates", "n_chosen"):
                g = got.get(field)
                g = list(g) if isinstance(g, (list, tuple)) else g
                if g != want[field]:
                    add(f"space {_quote(key)}", f"{field} {_quote(g)} in the file, expected {_quote(want[field])}")
        return True

    @staticmethod
    def _state_dict_problems(where: str, saved: Any, current: Mapping[str, Any],
                             add: Callable[[str, str], None]) -> None:
        """A strict ``load_state_dict`` dry run: missing/unexpected keys and size mismatches."""
        if not isinstance(saved, Mapping):
            add(where, f"got {type(saved).__name__} {_quote(saved, 80)}, expected a state_dict (name -> tensor)")
            return
        _key_problems(where, saved, current, add)
        for k, want in current.items():
            if k not in saved or not torch.is_tensor(want):
                continue
            got = saved[k]
            if not torch.is_tensor(got):
                add(where, f"{_quote(k)} is {type(got).__name__} {_quote(got, 80)}, expected a tensor of shape "
                           f"{_shape(want)}")
            elif got.shape != want.shape:
                add(where, f"size mismatch for {_quote(k)}: {_shape(got)} in the file, expected {_shape(want)} "
                           f"in this trainer")

    @staticmethod
    def _optimizer_problems(where: str, saved: Any, opt: torch.optim.Optimizer | None,
                            add: Callable[[str, str], None]) -> None:
        """What ``opt.load_state_dict(saved)`` would refuse, or accept and regret at the next step."""
        if opt is None:
            if saved is not None:
                add(where, "the file has optimizer state, but this trainer has no optimizer")
            return
        if saved is None:
            add(where, f"the file has no optimizer state, expected one for this {type(opt).__name__}")
            return
        groups = saved.get("param_groups") if isinstance(saved, Mapping) else None
        if not isinstance(groups, (list, tuple)) or not isinstance(saved.get("state"), Mapping) or not all(
                isinstance(g, Mapping) and isinstance(g.get("params"), (list, tuple)) for g in groups):
            add(where, f"got {_quote(saved, 80)}, expected an optimizer state_dict ('state', 'param_groups')")
            return
        current = opt.param_groups
        if len(groups) != len(current):
            add(where, f"{len(current)} parameter groups in this {type(opt).__name__}, {len(groups)} in the file")
            return
        index: dict[Any, torch.Tensor] = {}
        for i, (g, c) in enumerate(zip(groups, current)):
            if len(g["params"]) != len(c["params"]):
                add(where, f"parameter group {i} has {len(c['params'])} parameters in this trainer, "
                           f"{len(g['params'])} in the file")
                continue
            index.update(zip(g["params"], c["params"]))
            ours = set(c) - {"params", "param_names"}
            theirs = set(g) - {"params", "param_names"}
            extra, lacking = sorted(theirs - ours), sorted(ours - theirs)
            if extra and lacking:  # one-sided differences are other torch versions' options
                add(where, f"parameter group {i} has options {_some(extra)} in the file and {_some(lacking)} in "
                           f"this {type(opt).__name__}: written by another optimizer class")
        for pid, st in saved["state"].items():
            p = index.get(pid)
            if p is None:
                if len(index) == sum(len(c["params"]) for c in current):
                    add(where, f"state for parameter {_quote(pid)}, which no parameter group in the file lists")
                continue
            if not isinstance(st, Mapping):
                add(where, f"state of parameter {_quote(pid)} is {_quote(st, 80)}, expected a dict")
                continue
            for name, v in st.items():
                if name in _PARAM_SHAPED and torch.is_tensor(v) and v.shape != p.shape:
                    add(where, f"size mismatch for {name!r} of parameter {_quote(pid)}: {_shape(v)} in the file, "
                               f"expected {_shape(p)}")

    def _algo_problems(self, saved: Any, add: Callable[[str, str], None]) -> None:
        """Compare the algorithm state (alphas, controller, counts, ...) with this trainer's, by structure."""
        current = self._algo_state()
        if not isinstance(saved, Mapping):
            add("algorithm", f"got {_quote(saved, 80)}, expected a dict with {_some(list(current))}")
            return
        missing = [k for k in current if k not in saved]
        unexpected = [k for k in saved if k not in current]
        me = self._algorithm_name()
        if missing:
            add("algorithm", f"missing entries {_some(missing)} (a {me} has them, the file does not)")
        if unexpected:
            add("algorithm", f"unexpected entries {_some(unexpected)} (in the file, not in a {me})")
        for name, want in current.items():
            if name in saved:
                self._compare(f"algorithm[{name!r}]", saved[name], want, name, add)

    def _compare(self, where: str, got: Any, want: Any, name: str | None, add: Callable[[str, str], None]) -> None:
        if name in self._checkpoint_architectures:
            if got is not None:
                try:
                    self.space.validate(got)
                except NasnbError as err:
                    add(where, f"not an architecture of this space: {_first_line(err)}")
            return
        if got is None or want is None:
            return
        if isinstance(want, Mapping) and "param_groups" in want and "state" in want:
            opt = getattr(self, name, None) if name else None
            if isinstance(opt, torch.optim.Optimizer):
                self._optimizer_problems(where, got, opt, add)
            return
        if torch.is_tensor(want):
            if not torch.is_tensor(got):
                add(where, f"got {type(got).__name__} {_quote(got, 80)}, expected a tensor of shape {_shape(want)}")
            elif got.shape != want.shape:
                add(where, f"size mismatch: {_shape(got)} in the file, expected {_shape(want)}")
            return
        if isinstance(want, Mapping):
            if not isinstance(got, Mapping):
                add(where, f"got {type(got).__name__} {_quote(got, 80)}, expected a dict with keys {_some(list(want))}")
                return
            _key_problems(where, got, want, add)
            for k, w in want.items():
                if k in got:
                    self._compare(f"{where}[{k!r}]", got[k], w, None, add)
            return
        if isinstance(want, (list, tuple)) and all(isinstance(v, (int, float)) for v in want):
            if not isinstance(got, (list, tuple)) or not all(isinstance(v, (int, float)) for v in got):
                add(where, f"got {_quote(got, 80)}, expected {len(want)} numbers")
            elif len(got) != len(want):
                add(where, f"{len(got)} values in the file, expected {len(want)}")
            return
        if isinstance(want, (int, float)) and not isinstance(got, (int, float)):
            add(where, f"got {_quote(got, 80)}, expected a number")

    def _history_problems(self, saved: Any, add: Callable[[str, str], None], names: bool) -> ArchHistory | None:
        """Rebuild the history (every record checked); compare its keys and candidates with the space."""
        if not isinstance(saved, Mapping) or not isinstance(saved.get("names"), Mapping):
            add("history", f"got {_quote(saved, 80)}, expected ArchHistory.to_dict() (with 'names' and 'records')")
            return None
        mine = self.history.names
        if names:  # unless the header's space already reported these differences
            theirs = saved["names"]
            _key_problems("history", theirs, mine, add, mine="this model's space")
            for k, labels in mine.items():
                got = theirs.get(k)
                if k in theirs and (not isinstance(got, (list, tuple)) or [str(n) for n in got] != labels):
                    add(f"history {_quote(k)}", f"candidates {_quote(got)} in the file, expected {_quote(labels)}")
        if saved.get("kind", "weights") != self.history.kind:
            add("history", f"records {_quote(saved.get('kind'))} weights, a {self._algorithm_name()} records "
                           f"{self.history.kind!r}")
        try:
            return ArchHistory.from_dict(saved)
        except (NasnbError, LookupError, TypeError, ValueError, AttributeError) as err:
            add("history", f"records cannot be read: {type(err).__name__}: {_first_line(err)}")
            return None



def _unreadable(err: Exception, head: bytes, size: int) -> str:
    """Why ``torch.load`` could not read a checkpoint file starting with ``head``."""
    if head != b"PK\x03\x04":  # every torch.save since 1.6 writes a zip archive
        return (f"not a nasnb checkpoint: not a file written by torch.save (it starts with {_quote(head)}); expected "
                f"a file written by save_checkpoint or the Checkpoint callback")
    unpickler = [line.strip() for line in str(err).splitlines() if "WeightsUnpickler error:" in line]
    if unpickler and unpickler[0].split("WeightsUnpickler error:", 1)[1].strip():
        detail = unpickler[0].split("WeightsUnpickler error:", 1)[1].strip()
        return (f"not a nasnb checkpoint: a torch.save file holding Python objects besides tensors and plain data "
                f"({_quote(detail)[1:-1]}); a nasnb checkpoint holds only those")
    return f"truncated or corrupt: a zip archive of {size} bytes that torch.load cannot read ({_first_line(err)})"


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(i) for i in x) if isinstance(x, (list, tuple)) else x


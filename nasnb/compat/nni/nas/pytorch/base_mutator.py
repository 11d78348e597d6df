"""``nni.nas.pytorch.base_mutator``: a mutator takes over the forward of a model's mutables.

A mutator binds the model to a :class:`nasnb.SearchSpace` (which checks the space: nested
mutables and ``choose_from`` entries that name no earlier key raise RuntimeError, as in NNI)
and installs itself on every key's decision, so each ``LayerChoice`` / ``InputChoice`` call
goes to :meth:`BaseMutator.on_forward_layer_choice` / :meth:`~BaseMutator.on_forward_input_choice`.
A model has at most one mutator.

>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> mutator = BaseMutator(net)
>>> [m.key for m in mutator.mutables]
['act']
>>> BaseMutator(net)
Traceback (most recent call last):
...
RuntimeError: LayerChoice 'act' at '0' already has a mutator (BaseMutator); NNI 1.x allows one mutator per model
"""

from __future__ import annotations

from typing import Any

from torch import nn

from nasnb.compat._errors import nni_errors
from nasnb.mutables import InputChoice, LayerChoice, Mutable, MutableScope
from nasnb.space import SearchSpace

from .utils import StructuredMutableTreeNode

__all__ = ["BaseMutator"]


class _Hooks:
    """What a mutator installs on each decision: nasnb's mixer protocol calling NNI's hooks."""

    __slots__ = ("mutator",)

    def __init__(self, mutator: "BaseMutator"):
        self.mutator = mutator

    def forward_layer_choice(self, mutable: LayerChoice, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        return self.mutator.on_forward_layer_choice(mutable, *args, **kwargs)

    def forward_input_choice(self, mutable: InputChoice, inputs: list[Any]) -> tuple[Any, Any]:
        return self.mutator.on_forward_input_choice(mutable, inputs)


def mutator_of(mutable: Mutable) -> "BaseMutator | None":
    """The mutator that runs ``mutable``'s forward, or None."""
    mixer = mutable.decision.mixer if isinstance(mutable, (LayerChoice, InputChoice)) else None  # a space has no other kind
    return mixer.mutator if isinstance(mixer, _Hooks) else None


class BaseMutator(nn.Module):
    """Base of every NNI 1.x mutator: parses the search space and receives the forward calls.

    Parameters
    ----------
    model : nn.Module
        The model with mutables. It is not registered as a child (a mutator's parameters
        are its own, e.g. DARTS' alphas).

    Attributes
    ----------
    space : SearchSpace
        The nasnb space bound to ``model`` (keys, specs, ``current()``, ``fix()``).
    """

    # both live in the instance ``__dict__`` (set once in ``__init__``), so ``nn.Module`` never registers them
    model: nn.Module
    space: SearchSpace

    def __init__(self, model: nn.Module):
        super().__init__()
        self.__dict__["model"] = model
        with nni_errors():
            space = SearchSpace(model, keys="nni")
        for key in space:
            for m in space.mutables(key):
                other = mutator_of(m)
                if other is not None and other is not self:
                    raise RuntimeError(
                        f"{type(m).__name__} {m.key!r} at {m.name!r} already has a mutator "
                        f"({type(other).__name__}); NNI 1.x allows one mutator per model")
        self.__dict__["space"] = space
        self._structured_mutables = self._parse_search_space(model)
        space.set_mixer(_Hooks(self))
        self._scope_handles = self._hook_scopes(model)

    def _parse_search_space(self, model: nn.Module) -> StructuredMutableTreeNode:
        root = StructuredMutableTreeNode(None)
        memo: set[int] = set()

        def visit(module: nn.Module, node: StructuredMutableTreeNode) -> None:
            if id(module) in memo:
                return
            memo.add(id(module))
            if isinstance(module, Mutable):
                node = node.add_child(module)
            for child in module._modules.values():
                if child is not None:
                    visit(child, node)

        visit(model, root)
        return root

    def _hook_scopes(self, model: nn.Module) -> list[Any]:
        enter = type(self).enter_mutable_scope is not BaseMutator.enter_mutable_scope
        leave = type(self).exit_mutable_scope is not BaseMutator.exit_mutable_scope
        handles = []
        for m in model.modules():
            if isinstance(m, MutableScope):
                if enter:
                    handles.append(m.register_forward_pre_hook(lambda scope, args: self.enter_mutable_scope(scope)))
                if leave:
                    handles.append(m.register_forward_hook(lambda scope, args, out: self.exit_mutable_scope(scope)))
        return handles

    @property
    def mutables(self) -> StructuredMutableTreeNode:
        """The mutables in definition order (iterating yields each key once)."""
        return self._structured_mutables

    @property
    def undedup_mutables(self) -> Any:
        """Every mutable, also those sharing a key with an earlier one."""
        return self._structured_mutables.traverse(deduplicate=False)

    def forward(self, *inputs: Any) -> Any:
        raise RuntimeError("Forward is undefined for mutators.")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("model", "space"):
            raise AttributeError(f"Attribute `{name}` can be set at most once (a mutator must not register "
                                 f"the model as a child: its parameters would become the mutator's)")
        super().__setattr__(name, value)

    def enter_mutable_scope(self, mutable_scope: MutableScope) -> None:
        """Called when the forward of a MutableScope starts (override to use it)."""

    def exit_mutable_scope(self, mutable_scope: MutableScope) -> None:
        """Called when the forward of a MutableScope ends (override to use it)."""

    def on_forward_layer_choice(self, mutable: LayerChoice, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Forward of ``mutable``: return ``(output, mask)``."""
        raise NotImplementedError

    def on_forward_input_choice(self, mutable: InputChoice, tensor_list: list[Any]) -> tuple[Any, Any]:
        """Forward of ``mutable`` on ``tensor_list``: return ``(output, mask)``."""
        raise NotImplementedError

    def export(self) -> dict[str, Any]:
        """The decisions of every key, enough to build the final network."""
        raise NotImplementedError

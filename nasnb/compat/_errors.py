"""NNI 1.x raised RuntimeError where nasnb raises ValueError subclasses; the layer raises both.

>>> from nasnb.exceptions import SearchSpaceError
>>> try:
...     with nni_errors():
...         raise SearchSpaceError("nested mutables", key="conv1")
... except RuntimeError as err:
...     print(type(err).__name__, isinstance(err, SearchSpaceError), err.key)
SearchSpaceError True conv1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..exceptions import NasnbError

__all__ = ["nni_errors"]

_dual: dict[type, type] = {}


def as_runtime_error(err: NasnbError) -> NasnbError:
    """``err`` itself, re-classed to also be a RuntimeError (message, key and problems kept)."""
    cls = type(err)
    if not isinstance(err, RuntimeError):
        if cls not in _dual:
            _dual[cls] = type(cls.__name__, (cls, RuntimeError), {"__module__": cls.__module__})
        err.__class__ = _dual[cls]
    return err


@contextmanager
def nni_errors() -> Iterator[None]:
    """Inside the block, nasnb errors are raised as RuntimeErrors too (NNI 1.x's type)."""
    try:
        yield
    except NasnbError as err:
        raise as_runtime_error(err) from None

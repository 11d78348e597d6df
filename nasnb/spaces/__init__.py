"""Ready-made search spaces, written with :mod:`nasnb.mutables` and :mod:`nasnb.ops` as a user would.

Nothing in the core special-cases them: they are ordinary ``nn.Module``s whose keys,
shared decisions and ``choose_from`` wiring follow the NNI 1.x examples, so what works
for them works for any space written the same way.

=====================  ==========================================================
``DARTS``              DARTS CNN space (Liu et al. 2019); ``darts_arch`` /
                       ``to_genotype`` convert DARTS-repository genotypes
``NB201``              NAS-Bench-201 cell space; ``nb201_arch`` / ``to_nb201_str``
``ENASMicro``          ENAS micro (cell) space, as NNI v1.9's example
``ENASMacro``          ENAS macro (layer-wise) space, as NNI v1.9's example
``ProxylessNAS``       ProxylessNAS MobileNetV2-style space, as NNI v1.9's example
``SPOS``               Single-Path One-Shot ShuffleNetV2 space, as NNI v1.9's example
=====================  ==========================================================

Each class has a ``small()`` constructor: a configuration that runs forward and
backward on a CPU in well under a second, for notebooks and tests.

Examples
--------
>>> import nasnb
>>> from nasnb import spaces
>>> space = nasnb.SearchSpace(spaces.NB201.small())
>>> space.size
15625
"""

from __future__ import annotations

from .darts import DARTS, DARTS_V2, PDARTS, Genotype, darts_arch, to_genotype
from .enas import ENASMacro, ENASMicro
from .nb201 import NB201, nb201_arch, to_nb201_str
from .proxyless import ProxylessNAS
from .spos import SPOS

__all__ = [
    "DARTS",
    "DARTS_V2",
    "ENASMacro",
    "ENASMicro",
    "Genotype",
    "NB201",
    "PDARTS",
    "ProxylessNAS",
    "SPOS",
    "darts_arch",
    "nb201_arch",
    "to_genotype",
    "to_nb201_str",
]

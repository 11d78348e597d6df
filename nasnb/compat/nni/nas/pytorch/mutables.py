"""``nni.nas.pytorch.mutables``: nasnb's own mutables (the same classes).

>>> import nasnb.mutables
>>> LayerChoice is nasnb.mutables.LayerChoice
True
"""

from nasnb.mutables import InputChoice, LayerChoice, Mutable, MutableScope

__all__ = ["InputChoice", "LayerChoice", "Mutable", "MutableScope"]

"""Pure plotting functions: each returns a matplotlib Figure or draws on a given ``ax``.

Each plot has a ``_<name>_data`` step (plain numbers, tested by value) and a drawing
step; nothing calls ``plt.show`` or changes global style.
"""

from __future__ import annotations

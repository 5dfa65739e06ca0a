"""The numpy array types of the verdicts' vectorized parts (apart, so ``design`` stays stdlib-only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

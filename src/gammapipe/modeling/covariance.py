"""Covariance matrix attached to a list of parameters."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .parameter import Parameters

__all__ = ["Covariance"]


class Covariance:
    """Covariance matrix of a set of parameters (in parameter value units).

    Parameters
    ----------
    parameters : `Parameters`
        Parameters the matrix refers to (rows/columns in this order).
    data : array-like, optional
        Square matrix; default: diagonal with the squared parameter errors.
    """

    def __init__(self, parameters: Parameters | Iterable, data: np.ndarray | None = None) -> None:
        self.parameters = parameters if isinstance(parameters, Parameters) else Parameters(
            parameters
        )
        if data is None:
            data = np.diag(np.square(self.parameters.errors))
        self.data = data

    @property
    def shape(self) -> tuple[int, int]:
        """Matrix shape (n_parameters, n_parameters)."""
        n = len(self.parameters)
        return (n, n)

    @property
    def data(self) -> np.ndarray:
        """Matrix as a float64 array."""
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        value = np.array(value, dtype=float)
        if value.ndim == 0 and len(self.parameters) == 1:
            value = value.reshape(1, 1)
        if value.shape != self.shape:
            raise ValueError(
                f"Covariance: matrix shape {value.shape} does not match the {len(self.parameters)}"
                f" parameters {self.parameters.names}"
            )
        self._data = value

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self._data, dtype=dtype)

    def _indices(self, parameters: Parameters | Iterable) -> list[int]:
        return [self.parameters.index(par) for par in parameters]

    @classmethod
    def from_factor_matrix(cls, parameters: Parameters, matrix: np.ndarray) -> Covariance:
        """Create from the covariance of the free parameters' factors.

        Parameters
        ----------
        parameters : `Parameters`
            All parameters (frozen ones get zero rows and columns).
        matrix : array-like
            Covariance of the factors of ``parameters.free_parameters``.
        """
        matrix = np.asarray(matrix, dtype=float)
        free = np.array([not p.frozen for p in parameters], dtype=bool)
        n_free = int(free.sum())
        if matrix.shape != (n_free, n_free):
            raise ValueError(
                f"Covariance.from_factor_matrix: matrix shape {matrix.shape} does not match the "
                f"{n_free} free parameters"
            )
        full = np.zeros((len(parameters), len(parameters)))
        idx = np.flatnonzero(free)
        full[np.ix_(idx, idx)] = matrix
        scales = parameters.scales
        return cls(parameters, full * np.outer(scales, scales))

    @classmethod
    def from_stack(cls, covar_list: Iterable[Covariance]) -> Covariance:
        """Block-diagonal covariance of several covariances (no cross terms)."""
        covar_list = list(covar_list)
        parameters = Parameters([])
        for cov in covar_list:
            parameters = parameters + cov.parameters
        data = np.zeros((len(parameters), len(parameters)))
        start = 0
        for cov in covar_list:
            stop = start + len(cov.parameters)
            data[start:stop, start:stop] = cov.data
            start = stop
        return cls(parameters, data)

    def get_subcovariance(self, parameters: Parameters | Iterable) -> np.ndarray:
        """Block of the matrix for the given parameters (objects or names)."""
        idx = self._indices(parameters)
        return self._data[np.ix_(idx, idx)]

    def set_subcovariance(self, covar: Covariance) -> None:
        """Write the block of another covariance at its parameters' positions."""
        idx = self._indices(covar.parameters)
        self._data[np.ix_(idx, idx)] = covar.data

    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix (rows/columns of zero-variance parameters are 0)."""
        err = np.sqrt(np.clip(np.diag(self._data), 0, None))
        norm = np.outer(err, err)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.where(norm > 0, self._data / np.where(norm > 0, norm, 1), 0.0)
        return corr

    def copy(self) -> Covariance:
        """Copy of the matrix for the same parameter objects."""
        return self.__class__(self.parameters, self._data.copy())

    def plot_correlation(self, ax=None, figsize=None, **kwargs):
        """Image of the correlation matrix of the free parameters (matplotlib).

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
            Axes to draw in (default: current axes).
        figsize : tuple, optional
            Figure size when a new figure is made.
        **kwargs
            Passed to ``imshow`` (default ``cmap="coolwarm"``, ``vmin=-1``, ``vmax=1``).
        """
        import matplotlib.pyplot as plt

        free = np.array([not p.frozen for p in self.parameters], dtype=bool)
        corr = self.correlation[np.ix_(free, free)]
        names = [p.name for p, f in zip(self.parameters, free, strict=True) if f]
        if ax is None:
            _, ax = plt.subplots(figsize=figsize) if figsize else (None, plt.gca())
        kwargs.setdefault("cmap", "coolwarm")
        kwargs.setdefault("vmin", -1)
        kwargs.setdefault("vmax", 1)
        image = ax.imshow(corr, origin="upper", **kwargs)
        ax.set_xticks(np.arange(len(names)))
        ax.set_yticks(np.arange(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right")
        ax.set_yticklabels(names)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize="small")
        ax.figure.colorbar(image, ax=ax, label="correlation")
        return ax

    def __str__(self) -> str:
        return f"Covariance of {self.parameters.names}:\n{self._data}"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(parameters={self.parameters.names})"

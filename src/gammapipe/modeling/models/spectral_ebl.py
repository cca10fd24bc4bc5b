"""EBL absorption as a multiplicative norm model (tabulated ``exp(-tau(E, z))``)."""

from __future__ import annotations

import os
from typing import Any

import astropy.units as u
import numpy as np

from ...utils.errors import FITSFormatError, MissingFileError
from ...utils.fits import make_path, read_table_hdu
from ..parameter import Parameter
from ._spectral_base import SpectralModel

__all__ = ["EBLAbsorptionNormSpectralModel", "EBL_DATA_BUILTIN"]

EBL_DATA_BUILTIN = {
    "franceschini": "ebl_franceschini.fits.gz",
    "franceschini17": "ebl_franceschini_2017.fits.gz",
    "dominguez": "ebl_dominguez11.fits.gz",
    "finke": "frd_abs.fits.gz",
    "saldana-lopez": "ebl_saldana-lopez_2021.fits.gz",
}
"""Builtin EBL tables, looked up in ``$GAMMAPIPE_DATA/ebl`` or ``$GAMMAPY_DATA/ebl``."""


class EBLAbsorptionNormSpectralModel(SpectralModel):
    """Absorption factor ``A(E, z)^alpha_norm`` interpolated from a table.

    ``A`` is interpolated linearly in redshift and in ``ln E`` (values clipped to [0, 1]
    are not assumed; outside the energy range the end values are kept).

    Parameters
    ----------
    energy : `~astropy.units.Quantity`
        Increasing energy nodes.
    param : array-like
        Increasing redshift nodes.
    data : array-like
        Absorption factors, shape ``(len(param), len(energy))``.
    redshift : float
        Source redshift (frozen parameter).
    alpha_norm : float
        Scaling of the optical depth (frozen parameter).
    """

    tag = ("EBLAbsorptionNormSpectralModel", "ebl-norm")
    alpha_norm = Parameter("alpha_norm", 1.0, frozen=True)
    redshift = Parameter("redshift", 0.1, frozen=True)

    def __init__(self, energy: u.Quantity, param, data, redshift: Any = 0.1,
                 alpha_norm: Any = 1.0) -> None:
        energy = u.Quantity(energy)
        param = np.asarray(u.Quantity(param).to_value(u.one), dtype=float)
        data = np.asarray(data, dtype=float)
        if data.shape != (param.size, energy.size):
            raise ValueError(
                f"EBLAbsorptionNormSpectralModel: data shape {data.shape} != "
                f"(n_param={param.size}, n_energy={energy.size})"
            )
        if np.any(np.diff(energy.value) <= 0) or np.any(np.diff(param) <= 0):
            raise ValueError("EBLAbsorptionNormSpectralModel: energy and param must increase")
        super().__init__(redshift=redshift, alpha_norm=alpha_norm)
        self.energy = energy
        self.param = param
        self.data = data

    def _energy_unit(self) -> u.UnitBase:
        return self.energy.unit

    def _breakpoints(self) -> u.Quantity | None:
        return self.energy

    def _absorption(self, energy: u.Quantity) -> np.ndarray:
        z = float(np.clip(self.redshift.value, self.param[0], self.param[-1]))
        k = int(np.clip(np.searchsorted(self.param, z, side="right") - 1, 0, self.param.size - 2))
        w = (z - self.param[k]) / (self.param[k + 1] - self.param[k])
        row = (1 - w) * self.data[k] + w * self.data[k + 1]
        log_e = np.log(self._as_energy(energy).value)
        return np.interp(log_e, np.log(self.energy.value), row)

    def __call__(self, energy: u.Quantity) -> u.Quantity:
        absorption = np.clip(self._absorption(energy), 0, None)
        return u.Quantity(np.power(absorption, self.alpha_norm.value))

    def evaluate(self, energy: u.Quantity, **kwargs: Any) -> u.Quantity:
        """Absorption factor at ``energy`` (current parameter values)."""
        return self(energy)

    @classmethod
    def read(cls, filename: str, redshift: float = 0.1, alpha_norm: float = 1.0):
        """Read an XSPEC multiplicative table model (OGIP 92-009).

        ``ENERGIES`` (``ENERG_LO``/``ENERG_HI``, keV unless a unit is given) define the nodes
        (log-centres); ``SPECTRA`` rows give the absorption per bin for each ``PARAMVAL``
        (redshift).
        """
        path = make_path(filename)
        energies = read_table_hdu(path, "ENERGIES")
        spectra = read_table_hdu(path, "SPECTRA")
        for table, cols, hdu in (
            (energies, ("ENERG_LO", "ENERG_HI"), "ENERGIES"),
            (spectra, ("PARAMVAL", "INTPSPEC"), "SPECTRA"),
        ):
            missing = [c for c in cols if c not in table.colnames]
            if missing:
                raise FITSFormatError(f"{path} [HDU {hdu}]: missing column(s) {missing}")
        unit = energies["ENERG_LO"].unit or u.keV
        e_lo = np.asarray(energies["ENERG_LO"], dtype=float)
        e_hi = np.asarray(energies["ENERG_HI"], dtype=float)
        param = np.asarray(spectra["PARAMVAL"], dtype=float)
        param = param[:, 0] if param.ndim > 1 else param
        data = np.asarray(spectra["INTPSPEC"], dtype=float)
        order = np.argsort(param)
        return cls(
            energy=u.Quantity(np.sqrt(e_lo * e_hi), unit),
            param=param[order],
            data=data[order],
            redshift=redshift,
            alpha_norm=alpha_norm,
        )

    @classmethod
    def read_builtin(cls, reference: str = "dominguez", redshift: float = 0.1,
                     alpha_norm: float = 1.0):
        """Read a builtin EBL table (see `EBL_DATA_BUILTIN`) from the data folder."""
        if reference not in EBL_DATA_BUILTIN:
            raise ValueError(
                f"Unknown EBL reference {reference!r}; known: {list(EBL_DATA_BUILTIN)}"
            )
        for var in ("GAMMAPIPE_DATA", "GAMMAPY_DATA"):
            root = os.environ.get(var)
            if root:
                path = make_path(root) / "ebl" / EBL_DATA_BUILTIN[reference]
                if path.is_file():
                    return cls.read(path, redshift=redshift, alpha_norm=alpha_norm)
        raise MissingFileError(
            f"EBL table {EBL_DATA_BUILTIN[reference]!r} not found in $GAMMAPIPE_DATA/ebl or "
            "$GAMMAPY_DATA/ebl"
        )

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """YAML layout with the table inline."""
        data = super().to_dict(full_output)
        data["spectral"]["energy"] = {
            "data": self.energy.value.tolist(),
            "unit": self.energy.unit.to_string("fits"),
        }
        data["spectral"]["param"] = {"data": self.param.tolist(), "unit": ""}
        data["spectral"]["values"] = {"data": self.data.tolist(), "unit": ""}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any):
        """Create from `to_dict` output."""
        inner = cls._unwrap_dict(dict(data))
        for key in ("energy", "param", "values"):
            if key not in inner:
                raise ValueError(f"EBLAbsorptionNormSpectralModel.from_dict: missing {key!r}")
        pars = cls._parameters_from_dict(inner.get("parameters", []))
        return cls(
            energy=u.Quantity(inner["energy"]["data"], inner["energy"].get("unit", "TeV")),
            param=inner["param"]["data"],
            data=inner["values"]["data"],
            redshift=pars["redshift"],
            alpha_norm=pars["alpha_norm"],
        )

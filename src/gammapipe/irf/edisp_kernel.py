"""Energy dispersion matrix ``P(E_reco bin | E_true bin)`` and OGIP RMF I/O."""

from __future__ import annotations

import os

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError, MissingHDUError
from gammapipe.utils.fits import make_path, open_fits, table_from_hdu, write_hdulist

from .core import IRF

__all__ = ["EDispKernel"]


class EDispKernel(IRF):
    """Energy dispersion matrix: probability to reconstruct an event of a true energy
    bin in each reco energy bin.

    Axes: ``energy_true`` and ``energy`` (reco); dimensionless. Rows (true energies) sum
    to the probability that the event is reconstructed within the reco axis range.
    """

    tag = "edisp_kernel"
    required_axes = ["energy_true", "energy"]
    default_unit = u.dimensionless_unscaled
    default_interp_kwargs = {"fill_value": 0.0, "method": "nearest"}
    _data_columns = ("MATRIX",)

    # ------------------------------------------------------------ creation
    @classmethod
    def from_gauss(cls, energy_axis_true, energy_axis, sigma, bias, pdf_threshold=1e-6):
        """Gaussian dispersion in ``migra = E_reco / E_true`` (mean ``1 + bias``, width
        ``sigma``), integrated exactly over each reco bin; entries below
        ``pdf_threshold`` are set to 0.

        ``sigma`` and ``bias`` may be arrays broadcasting against the true energy bins.
        """
        from scipy.special import ndtr

        n_e = energy_axis_true.nbin
        sigma = np.broadcast_to(np.asarray(u.Quantity(sigma).value, dtype=float), (n_e,))
        bias = np.broadcast_to(np.asarray(u.Quantity(bias).value, dtype=float), (n_e,))
        if np.any(sigma <= 0):
            raise ValueError("from_gauss: sigma must be positive")
        e_true = energy_axis_true.center
        ratio = (energy_axis.edges[None, :] / e_true[:, None]).to_value(u.dimensionless_unscaled)
        t = (ratio - 1 - bias[:, None]) / sigma[:, None]
        data = np.diff(ndtr(t), axis=1)
        data[data < pdf_threshold] = 0
        return cls(axes=[energy_axis_true, energy_axis], data=data)

    @classmethod
    def from_diagonal_response(cls, energy_axis_true, energy_axis=None):
        """Perfect energy resolution: each true bin maps onto the reco bins it overlaps,
        with the fraction of its width (in log energy) falling in each reco bin.
        """
        from gammapipe.maps import MapAxis

        if energy_axis is None:
            energy_axis = MapAxis.from_edges(
                energy_axis_true.edges, name="energy", interp=energy_axis_true.interp
            )
        t = np.log(energy_axis_true.edges.to_value(u.TeV))
        r = np.log(energy_axis.edges.to_value(u.TeV))
        lo = np.maximum(t[:-1, None], r[None, :-1])
        hi = np.minimum(t[1:, None], r[None, 1:])
        overlap = np.clip(hi - lo, 0, None)
        data = overlap / np.diff(t)[:, None]
        data[data < 1e-10] = 0
        return cls(axes=[energy_axis_true, energy_axis], data=data)

    # -------------------------------------------------------------- access
    @property
    def pdf_matrix(self) -> np.ndarray:
        """Probability matrix (true energy x reco energy)."""
        return self.data

    def _row_index(self, energy_true) -> np.ndarray:
        """Index of the true energy bin containing ``energy_true`` (clipped to the axis)."""
        axis = self.axes["energy_true"]
        edges = axis.edges.to_value(axis.unit)
        e = np.atleast_1d(u.Quantity(energy_true).to_value(axis.unit))
        return np.clip(np.searchsorted(edges, e, side="right") - 1, 0, axis.nbin - 1)

    def _row_moments(self, energy_true):
        """Mean and standard deviation of the reco energy (bin centres weighted by the
        matrix row of the true bin containing ``energy_true``) and that bin's centre."""
        idx = self._row_index(energy_true)
        rows = self.data[idx]
        e_unit = self.axes["energy_true"].unit
        centers = self.axes["energy"].center.to_value(e_unit)
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = rows.sum(axis=1)
            mean = (rows * centers).sum(axis=1) / norm
            var = (rows * (centers[None, :] - mean[:, None]) ** 2).sum(axis=1) / norm
        e_center = self.axes["energy_true"].center.to_value(e_unit)[idx]
        return mean, np.sqrt(var), e_center

    def get_mean(self, energy_true) -> u.Quantity:
        """Mean reconstructed energy for the true energy bin containing ``energy_true``
        (reco bin centres weighted by the matrix row)."""
        energy_true = u.Quantity(energy_true)
        mean, _, _ = self._row_moments(energy_true)
        unit = self.axes["energy_true"].unit
        return u.Quantity(mean.reshape(np.shape(energy_true)), unit)

    def get_bias(self, energy_true) -> np.ndarray:
        """Relative bias ``(<E_reco> - E_t) / E_t`` of the true energy bin containing
        ``energy_true`` (``E_t``: that bin's centre)."""
        energy_true = u.Quantity(energy_true)
        mean, _, center = self._row_moments(energy_true)
        return ((mean - center) / center).reshape(np.shape(energy_true))

    def get_resolution(self, energy_true) -> np.ndarray:
        """Relative resolution ``std(E_reco) / E_t`` of the true energy bin containing
        ``energy_true``."""
        energy_true = u.Quantity(energy_true)
        _, std, center = self._row_moments(energy_true)
        return (std / center).reshape(np.shape(energy_true))

    def get_bias_energy(self, bias, energy_min=None, energy_max=None) -> u.Quantity:
        """Reconstructed energy at which the relative bias equals ``bias`` (0.1: 10 %).

        The bias is computed at the true energy bin centres and interpolated as a
        tabulated spectrum: ``log(bias)`` linear in ``log(E)`` where both neighbouring
        values are positive, linear otherwise. The first crossing of ``bias`` between
        ``energy_min`` (default: the bin centre of the largest bias, i.e. near the
        threshold) and ``energy_max`` (default: the last bin centre) gives the true
        energy ``E_t`` (``energy_min`` if there is none); the result is
        ``E_t (1 + bias)``, as a one-element array.
        """
        axis = self.axes["energy_true"]
        centers = axis.center.to_value(axis.unit)
        values = self.get_bias(axis.center)
        finite = np.isfinite(values)
        x, y = np.log(centers[finite]), values[finite]
        if x.size < 2:
            return u.Quantity([np.nan], axis.unit)
        if energy_min is not None:
            lo = np.log(u.Quantity(energy_min, axis.unit).value)
        else:
            lo = x[int(np.argmax(y))]
        hi = np.log(u.Quantity(energy_max, axis.unit).value) if energy_max is not None else x[-1]
        root = _first_crossing(x, y, float(bias), lo, hi)
        if root is None:
            root = lo
        return u.Quantity([np.exp(root) * (1 + float(bias))], axis.unit)

    def pdf_in_safe_range(self, lo_threshold, hi_threshold) -> np.ndarray:
        """Matrix with the reco bins outside ``[lo_threshold, hi_threshold]`` set to 0
        (a bin is kept when it lies entirely within the range, up to 1e-6 relative)."""
        edges = self.axes["energy"].edges
        lo = u.Quantity(lo_threshold, edges.unit).value * (1 - 1e-6)
        hi = u.Quantity(hi_threshold, edges.unit).value * (1 + 1e-6)
        keep = (edges[:-1].value >= lo) & (edges[1:].value <= hi)
        data = self.data.copy()
        data[:, ~keep] = 0
        return data

    def to_image(self, lo_threshold=None, hi_threshold=None) -> EDispKernel:
        """Kernel with one reco bin ``[lo_threshold, hi_threshold]`` (default: the full
        reco range) holding the summed probability of the bins inside it."""
        from gammapipe.maps import MapAxis

        axis = self.axes["energy"]
        lo = axis.edges[0] if lo_threshold is None else u.Quantity(lo_threshold)
        hi = axis.edges[-1] if hi_threshold is None else u.Quantity(hi_threshold)
        data = self.pdf_in_safe_range(lo, hi).sum(axis=1, keepdims=True)
        new_axis = MapAxis.from_edges(
            u.Quantity([lo.to_value(axis.unit), hi.to_value(axis.unit)], axis.unit),
            name="energy",
            interp=axis.interp,
        )
        return self._replace(axes=[self.axes["energy_true"], new_axis], data=data)

    # ----------------------------------------------------------- OGIP I/O
    def to_hdulist(self, format: str = "ogip", name: str | None = None) -> fits.HDUList:
        """OGIP RMF: ``MATRIX`` + ``EBOUNDS`` HDUs (``format="ogip-sherpa"``: energies
        in keV, as Sherpa expects)."""
        unit = self._format_unit(format)
        return fits.HDUList(
            [fits.PrimaryHDU(), self._matrix_hdu(unit), self._ebounds_hdu(unit)]
        )

    @staticmethod
    def _format_unit(format: str):
        if format == "ogip":
            return None
        if format == "ogip-sherpa":
            return u.keV
        raise ValueError(f"EDispKernel: unsupported format {format!r} (ogip, ogip-sherpa)")

    def to_table(self, format: str = "ogip") -> Table:
        """The OGIP ``MATRIX`` table."""
        return table_from_hdu(self._matrix_hdu(self._format_unit(format)))

    def _matrix_hdu(self, unit=None) -> fits.BinTableHDU:
        e_true = self.axes["energy_true"]
        unit = u.Unit(unit or e_true.unit)
        e_edges = e_true.edges.to_value(unit)
        data = self.data
        nonzero = data > 0
        n_grp, f_chan, n_chan, matrix = [], [], [], []
        for row, mask in zip(data, nonzero, strict=True):
            idx = np.nonzero(mask)[0]
            if idx.size == 0:
                n_grp.append(0)
                f_chan.append(np.zeros(0, dtype=np.int16))
                n_chan.append(np.zeros(0, dtype=np.int16))
                matrix.append(np.zeros(0, dtype=np.float32))
                continue
            first, last = idx[0], idx[-1]
            n_grp.append(1)
            f_chan.append(np.array([first], dtype=np.int16))
            n_chan.append(np.array([last - first + 1], dtype=np.int16))
            matrix.append(row[first : last + 1].astype(np.float32))
        cols = [
            fits.Column("ENERG_LO", "E", unit=str(unit), array=e_edges[:-1]),
            fits.Column("ENERG_HI", "E", unit=str(unit), array=e_edges[1:]),
            fits.Column("N_GRP", "I", array=np.array(n_grp, dtype=np.int16)),
            fits.Column("F_CHAN", "PI()", array=np.array(f_chan, dtype=object)),
            fits.Column("N_CHAN", "PI()", array=np.array(n_chan, dtype=object)),
            fits.Column("MATRIX", "PE()", array=np.array(matrix, dtype=object)),
        ]
        hdu = fits.BinTableHDU.from_columns(cols, name="MATRIX")
        header = hdu.header
        header["CHANTYPE"] = "PHA"
        header["HDUCLASS"] = "OGIP"
        header["HDUCLAS1"] = "RESPONSE"
        header["HDUCLAS2"] = "RSP_MATRIX"
        header["DETCHANS"] = self.axes["energy"].nbin
        header["NUMGRP"] = int(np.sum(n_grp))
        header["NUMELT"] = int(sum(m.size for m in matrix))
        header["TLMIN4"] = 0
        return hdu

    def _ebounds_hdu(self, unit=None) -> fits.BinTableHDU:
        axis = self.axes["energy"]
        unit = u.Unit(unit or axis.unit)
        edges = axis.edges.to_value(unit)
        cols = [
            fits.Column("CHANNEL", "I", array=np.arange(axis.nbin, dtype=np.int16)),
            fits.Column("E_MIN", "D", unit=str(unit), array=edges[:-1]),
            fits.Column("E_MAX", "D", unit=str(unit), array=edges[1:]),
        ]
        hdu = fits.BinTableHDU.from_columns(cols, name="EBOUNDS")
        for key, value in (
            ("CHANTYPE", "PHA"),
            ("DETCHANS", axis.nbin),
            ("HDUCLASS", "OGIP"),
            ("HDUCLAS1", "RESPONSE"),
            ("HDUCLAS2", "EBOUNDS"),
            ("HDUVERS", "1.2.0"),
        ):
            hdu.header[key] = value
        return hdu

    @classmethod
    def from_hdulist(
        cls, hdulist: fits.HDUList, hdu1: str = "MATRIX", hdu2: str = "EBOUNDS", where: str = ""
    ) -> EDispKernel:
        """Read an OGIP RMF: ``MATRIX`` (or ``SPECRESP MATRIX``) and ``EBOUNDS`` HDUs."""
        from gammapipe.maps import MapAxis

        where = where or "HDU list"
        names = [h.name for h in hdulist]
        matrix_hdu = None
        for candidate in (hdu1, "MATRIX", "SPECRESP MATRIX"):
            if candidate in names:
                matrix_hdu = hdulist[candidate]
                break
        if matrix_hdu is None:
            raise MissingHDUError(f"{where}: no RMF matrix HDU {hdu1!r} (HDUs: {names})")
        if hdu2 not in names:
            raise MissingHDUError(f"{where}: no {hdu2!r} HDU (HDUs: {names})")
        mwhere = f"{where} [HDU {matrix_hdu.name}]"
        ewhere = f"{where} [HDU {hdu2}]"
        mtable = table_from_hdu(matrix_hdu, where=mwhere)
        etable = table_from_hdu(hdulist[hdu2], where=ewhere)
        from gammapipe.utils.fits import require_columns

        require_columns(
            mtable, ["ENERG_LO", "ENERG_HI", "N_GRP", "F_CHAN", "N_CHAN", "MATRIX"], mwhere
        )
        require_columns(etable, ["E_MIN", "E_MAX"], ewhere)
        e_unit = mtable["ENERG_LO"].unit or u.TeV
        e_true = np.append(np.asarray(mtable["ENERG_LO"], float), float(mtable["ENERG_HI"][-1]))
        r_unit = etable["E_MIN"].unit or u.TeV
        e_reco = np.append(np.asarray(etable["E_MIN"], float), float(etable["E_MAX"][-1]))
        n_reco = e_reco.size - 1
        data = np.zeros((e_true.size - 1, n_reco))
        tlmin = int(matrix_hdu.header.get(f"TLMIN{mtable.colnames.index('F_CHAN') + 1}", 1))
        raw = matrix_hdu.data
        for i in range(len(raw)):
            n_grp = int(raw["N_GRP"][i])
            f_chan = np.atleast_1d(raw["F_CHAN"][i])
            n_chan = np.atleast_1d(raw["N_CHAN"][i])
            values = np.atleast_1d(raw["MATRIX"][i]).astype(float)
            pos = 0
            for g in range(n_grp):
                start = int(f_chan[g]) - tlmin
                n = int(n_chan[g])
                if start < 0 or start + n > n_reco:
                    raise FITSFormatError(
                        f"{mwhere}: row {i} group {g} channels {start}..{start + n - 1} "
                        f"outside 0..{n_reco - 1}"
                    )
                data[i, start : start + n] = values[pos : pos + n]
                pos += n
        axes = [
            MapAxis.from_edges(e_true, unit=e_unit, name="energy_true", interp="log"),
            MapAxis.from_edges(e_reco, unit=r_unit, name="energy", interp="log"),
        ]
        return cls(axes=axes, data=data)

    @classmethod
    def read(
        cls, filename, hdu1: str = "MATRIX", hdu2: str = "EBOUNDS", format: str = "ogip"
    ) -> EDispKernel:
        """Read an OGIP RMF file."""
        path = make_path(filename)
        with open_fits(path) as hdulist:
            return cls.from_hdulist(hdulist, hdu1=hdu1, hdu2=hdu2, where=str(path))

    def write(
        self, filename: str | os.PathLike, overwrite: bool = False, format: str = "ogip"
    ) -> None:
        """Write an OGIP RMF file (atomic)."""
        write_hdulist(self.to_hdulist(format=format), filename, overwrite=overwrite)

    # ---------------------------------------------------------------- plots
    def plot_matrix(self, ax=None, add_cbar: bool = True, **kwargs):
        """Image of the matrix (true vs reco energy); returns the axes."""
        from .plotting import plot_image

        return plot_image(
            ax,
            self.axes["energy_true"],
            self.axes["energy"],
            self.data,
            label="Probability",
            add_cbar=add_cbar,
            **kwargs,
        )

    def plot_bias(self, ax=None, **kwargs):
        """Bias versus true energy; returns the axes."""
        from .plotting import plot_curves

        energy = self.axes["energy_true"].center
        return plot_curves(
            ax,
            energy,
            self.get_bias(energy)[None, :],
            ["bias"],
            xlabel=f"True energy [{energy.unit}]",
            ylabel="(E_reco - E_true) / E_true",
            xscale="log",
            **kwargs,
        )

    def peek(self, figsize=(15, 5)):
        """Quick-look figure (matrix and bias); returns the axes."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows=1, ncols=2, figsize=figsize)
        self.plot_bias(ax=axes[0])
        self.plot_matrix(ax=axes[1])
        fig.tight_layout()
        return axes


def _first_crossing(x: np.ndarray, y: np.ndarray, target: float, lo: float, hi: float):
    """First ``x`` in ``[lo, hi]`` where the tabulated curve ``(x, y)`` equals ``target``.

    Between nodes the curve is log-linear in ``y`` where both ends are positive (and
    ``target > 0``), linear otherwise. Returns None if there is no crossing.
    """

    def value_at(xq):
        j = int(np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.size - 2))
        t = (xq - x[j]) / (x[j + 1] - x[j])
        if y[j] > 0 and y[j + 1] > 0:
            return float(np.exp(np.log(y[j]) + t * (np.log(y[j + 1]) - np.log(y[j]))))
        return float(y[j] + t * (y[j + 1] - y[j]))

    inner = x[(x > lo) & (x < hi)]
    knots = np.concatenate([[lo], inner, [hi]])
    vals = np.array([value_at(k) for k in knots]) - target  # few knots: O(n_bins)
    for k in range(knots.size - 1):
        d0, d1 = vals[k], vals[k + 1]
        if d0 == 0:
            return float(knots[k])
        if d0 * d1 > 0:
            continue
        y0, y1 = d0 + target, d1 + target
        if y0 > 0 and y1 > 0 and target > 0:
            t = np.log(y0 / target) / np.log(y0 / y1)
        else:
            t = d0 / (d0 - d1)
        return float(knots[k] + t * (knots[k + 1] - knots[k]))
    return None

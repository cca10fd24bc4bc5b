"""Summary numbers (`info_dict`) and the text block (`dataset_str`) of a `MapDataset`."""

from __future__ import annotations

import astropy.units as u
import numpy as np

__all__ = ["info_dict", "dataset_str"]


def _masked_sum(m, mask) -> float:
    """Sum in the map's own dtype (float32 maps give the float32 sum, as the reference)."""
    data = np.asarray(m.data)
    if data.dtype.kind not in "fc":
        data = data.astype(float)
    if mask is None:
        return float(np.sum(data))
    return float(np.sum(data[mask]))


def _exposure_range(ds):
    unit = ds.exposure.unit
    data = np.asarray(ds.exposure.data, dtype=float)
    sel = data > 0
    if ds.mask_safe is not None:
        image = np.asarray(ds.mask_safe.data, bool)
        image = image.reshape((-1,) + image.shape[-2:]).any(axis=0)
        sel = sel & image
        if not sel.any():
            sel = np.ones_like(sel)
    values = data[sel]
    if values.size == 0:
        return u.Quantity(np.nan, unit), u.Quantity(np.nan, unit)
    return u.Quantity(values.min(), unit), u.Quantity(values.max(), unit)


def info_dict(ds, in_safe_data_range: bool = True) -> dict:
    """Summary of a dataset.

    Keys: name, counts, excess, sqrt_ts, background, npred, npred_background,
    npred_signal, exposure_min, exposure_max, livetime, ontime, counts_rate,
    background_rate, excess_rate, n_bins, n_fit_bins, stat_type, stat_sum. Sums are taken
    inside the safe mask when ``in_safe_data_range`` (and a safe mask exists), in the
    dtype of the maps (float32 counts/background maps give float32 sums). ``stat_sum`` is
    NaN unless models are set (even a background model alone), like the reference tool.
    """
    from gammapipe.stats import CashCountsStatistic

    mask = None
    if in_safe_data_range and ds.mask_safe is not None:
        mask = np.asarray(ds.mask_safe.data, dtype=bool)
    info: dict = {"name": ds.name}
    counts = _masked_sum(ds.counts, mask) if ds.counts is not None else 0.0
    info["counts"] = int(round(counts))
    background = _masked_sum(ds.background, mask) if ds.background is not None else np.nan
    info["excess"] = float(counts - background)
    info["sqrt_ts"] = float(CashCountsStatistic(counts, background).sqrt_ts)
    info["background"] = float(background)
    has_sky = bool(ds._sky_models())
    npred = np.nan
    if has_sky or ds.background is not None:
        npred = _masked_sum(ds.npred(), mask)
    info["npred"] = float(npred)
    npred_background = np.nan
    if ds.background is not None:
        npred_background = _masked_sum(ds.npred_background(), mask)
    info["npred_background"] = float(npred_background)
    npred_signal = np.nan
    if has_sky:
        npred_signal = _masked_sum(ds.npred_signal(), mask)
    info["npred_signal"] = float(npred_signal)
    exp_min = exp_max = u.Quantity(np.nan, "m2 s")
    if ds.exposure is not None:
        exp_min, exp_max = _exposure_range(ds)
    info["exposure_min"] = exp_min
    info["exposure_max"] = exp_max
    livetime = ds.livetime if ds.livetime is not None else u.Quantity(np.nan, "s")
    info["livetime"] = livetime
    ontime = u.Quantity(np.nan, "s")
    if ds.gti is not None and len(ds.gti) > 0:
        ontime = ds.gti.time_sum
    info["ontime"] = ontime
    with np.errstate(invalid="ignore", divide="ignore"):
        info["counts_rate"] = info["counts"] / livetime
        info["background_rate"] = info["background"] / livetime
        info["excess_rate"] = info["excess"] / livetime
    info["n_bins"] = int(ds.counts.data.size) if ds.counts is not None else 0
    info["n_fit_bins"] = int(np.sum(ds.mask.data)) if ds.mask is not None else info["n_bins"]
    info["stat_type"] = ds.stat_type
    stat_sum = np.nan  # as the reference tool: only evaluated when models are set
    if ds.counts is not None and ds.models is not None and len(ds.models) > 0:
        stat_sum = ds.stat_sum()
    info["stat_sum"] = float(stat_sum)
    return info


def _fmt(value, spec=".2f") -> str:
    if isinstance(value, u.Quantity):
        return f"{value.value:{spec}} {value.unit}"
    return f"{value:{spec}}"


def dataset_str(ds) -> str:
    """Text summary of a dataset (the classic block of a gamma-ray analysis)."""
    info = info_dict(ds)
    w = 38
    lines = [f"{type(ds).__name__}", "-" * len(type(ds).__name__), ""]
    lines.append(f"  {'Name':{w}}: {info['name']} ")
    lines.append("")
    lines.append(f"  {'Total counts':{w}}: {info['counts']} ")
    lines.append(f"  {'Total background counts':{w}}: {_fmt(info['background'])}")
    lines.append(f"  {'Total excess counts':{w}}: {_fmt(info['excess'])}")
    lines.append("")
    lines.append(f"  {'Predicted counts':{w}}: {_fmt(info['npred'])}")
    lines.append(f"  {'Predicted background counts':{w}}: {_fmt(info['npred_background'])}")
    lines.append(f"  {'Predicted excess counts':{w}}: {_fmt(info['npred_signal'])}")
    lines.append("")
    lines.append(f"  {'Exposure min':{w}}: {_fmt(info['exposure_min'], '.2e')}")
    lines.append(f"  {'Exposure max':{w}}: {_fmt(info['exposure_max'], '.2e')}")
    lines.append("")
    lines.append(f"  {'Number of total bins':{w}}: {info['n_bins']} ")
    lines.append(f"  {'Number of fit bins':{w}}: {info['n_fit_bins']} ")
    lines.append("")
    lines.append(f"  {'Fit statistic type':{w}}: {info['stat_type']}")
    lines.append(f"  {'Fit statistic value (-2 log(L))':{w}}: {_fmt(info['stat_sum'])}")
    lines.append("")
    models = ds.models
    n_models = 0 if models is None else len(models)
    n_pars = n_free = 0
    if models is not None and n_models:
        pars = models.parameters
        n_pars = len(pars)
        n_free = sum(1 for p in pars if not p.frozen)
    lines.append(f"  {'Number of models':{w}}: {n_models} ")
    lines.append(f"  {'Number of parameters':{w}}: {n_pars}")
    lines.append(f"  {'Number of free parameters':{w}}: {n_free}")
    lines.append("")
    if models is not None and n_models:
        lines.append("  " + str(models).replace("\n", "\n  "))
    return "\n".join(lines)

"""Operations on `MapDataset`: stacking, cutouts, slicing, regrouping, padding, masking."""

from __future__ import annotations

import copy as _copy
import warnings

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GeometryError

from . import stacking

__all__ = [
    "stack_datasets",
    "cutout",
    "slice_by_idx",
    "slice_by_energy",
    "resample_energy_axis",
    "to_image",
    "downsample",
    "pad",
    "to_masked",
    "energy_range_from_mask",
    "mask_on_grid",
]


# interpolation weights below this are rounding noise (pixel centres that coincide)
LINEAR_WEIGHT_MIN = 1e-6


def energy_range_from_mask(mask: np.ndarray, edges: np.ndarray, axis_np: int = -3):
    """Per-pixel (energy_min, energy_max) of the bins where ``mask`` is True.

    ``mask`` has the energy axis at ``axis_np``; the result has that axis removed. Pixels
    without any True bin get NaN.
    """
    mask = np.moveaxis(np.asarray(mask, dtype=bool), axis_np, 0)
    n = mask.shape[0]
    anyv = mask.any(axis=0)
    first = np.argmax(mask, axis=0)
    last = n - 1 - np.argmax(mask[::-1], axis=0)
    emin = np.where(anyv, edges[first], np.nan)
    emax = np.where(anyv, edges[last + 1], np.nan)
    return emin, emax


def mask_on_grid(mask_data: np.ndarray, mask_geom, grid_geom, method: str = "nearest"
                 ) -> np.ndarray:
    """Boolean map looked up at the pixel centres of another (e.g. coarse IRF) grid.

    Parameters
    ----------
    mask_data : array, shape ``(..., ny, nx)``
        Boolean data on ``mask_geom``.
    mask_geom, grid_geom : `~gammapipe.maps.WcsGeom`
        Geometries of the mask and of the target grid.
    method : {"nearest", "linear"}
        ``nearest``: value of the mask pixel containing the centre (rounded pixel
        coordinate). ``linear``: True if the bilinear interpolation of the mask (as 0/1)
        at the centre is positive, i.e. if any mask pixel with an interpolation weight
        above `LINEAR_WEIGHT_MIN` (ignoring rounding noise) is True.

    Returns
    -------
    array, shape ``(..., ny_grid, nx_grid)``
        Mask values; False outside the mask image.
    """
    image = grid_geom.to_image()
    coord = image.get_coord()
    lon = np.asarray(coord["lon"], float)
    lat = np.asarray(coord["lat"], float)
    if image.frame != mask_geom.frame:
        from astropy.coordinates import SkyCoord

        sky = SkyCoord(lon, lat, unit="deg", frame=image.frame).transform_to(mask_geom.frame)
        lon, lat = sky.spherical.lon.deg, sky.spherical.lat.deg
    x, y = mask_geom.to_image().coord_to_pix({"lon": lon, "lat": lat})
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    data = np.asarray(mask_data, dtype=bool)
    ny, nx = data.shape[-2:]
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = np.where(finite, x, -10.0), np.where(finite, y, -10.0)

    def lookup(ix, iy):
        inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        values = data[..., np.where(inside, iy, 0), np.where(inside, ix, 0)]
        return values & inside

    if method == "nearest":
        return lookup(np.round(x).astype(int), np.round(y).astype(int))
    if method != "linear":
        raise ValueError(f"mask_on_grid: method must be 'nearest' or 'linear', got {method!r}")
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    wx, wy = x - x0, y - y0
    out = np.zeros(data.shape[:-2] + x.shape, dtype=bool)
    for dx, wxs in ((0, 1 - wx), (1, wx)):
        for dy, wys in ((0, 1 - wy), (1, wy)):
            out |= lookup(x0 + dx, y0 + dy) & ((wxs * wys) > LINEAR_WEIGHT_MIN)
    return out


def _check_stackable(ds, other) -> tuple:
    """Raise unless ``other`` can be stacked onto ``ds``; return the overlap slices."""
    if not isinstance(other, type(ds)):
        raise GeometryError(
            f"stack: cannot stack a {type(other).__name__} onto a {type(ds).__name__}"
        )
    pairs = [("counts", ds._geom, other._geom)]
    if ds.exposure is not None and other.exposure is not None:
        pairs.append(("exposure", ds.exposure.geom, other.exposure.geom))
    for what, g1, g2 in pairs:
        if not g1.axes.is_allclose(g2.axes, rtol=1e-3, atol=1e-6):
            raise GeometryError(
                f"stack: {what} axes of dataset {other.name!r} "
                f"({g2.axes.names}, shape {g2.data_shape[:-2]}) differ from those of "
                f"{ds.name!r} ({g1.axes.names}, shape {g1.data_shape[:-2]})"
            )
    try:
        from gammapipe.maps._wcs_ops import overlap_slices

        return overlap_slices(ds._geom, other._geom)
    except GeometryError as exc:
        raise GeometryError(
            f"stack: dataset {other.name!r} is not on the pixel grid of {ds.name!r}: {exc}"
        ) from exc


def _image_any(mask) -> np.ndarray | None:
    if mask is None:
        return None
    data = np.asarray(mask.data, dtype=bool)
    return data.reshape((-1,) + data.shape[-2:]).any(axis=0)


def _stack_map(target, mask_self, other_data, other_mask, parent, child, nan_to_num,
               data_self=None):
    """``target.data = data_self * mask_self``, plus ``other_data * other_mask`` on the
    overlap, in place: no full-size temporary.

    ``data_self`` (default: ``target.data``) replaces the data of ``target`` first (e.g.
    the background with its model applied). The data of ``target`` are updated in place
    when they are a writable float array owned by the map (they are converted once
    otherwise).
    """
    data = target.data if data_self is None else data_self
    dtype = target.data.dtype
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    owned = (data is target.data and isinstance(data, np.ndarray) and data.dtype == dtype
             and data.flags.writeable and data.base is None)
    if not owned:
        data = np.array(data, dtype=dtype)
    if mask_self is not None:
        np.multiply(data, mask_self, out=data, casting="unsafe")
    mo = None if other_mask is None else other_mask[(Ellipsis,) + child]
    stacking.add_masked_inplace(data[(Ellipsis,) + parent], other_data[(Ellipsis,) + child],
                                mo, nan_to_num=nan_to_num)
    if data is not target.data:
        target.data = data


def _same_image(geom, other) -> bool:
    """Whether two geometries share the image grid (WCS geometries only)."""
    same = getattr(geom, "_same_image", None)
    return bool(same is not None and same(other))


def _data_in_unit(m, unit) -> np.ndarray:
    """Data of map ``m`` in ``unit`` (no copy when already in ``unit``)."""
    if m.unit == unit:
        return m.data
    return m.quantity.to_value(unit)


def stack_datasets(ds, other, nan_to_num=True) -> None:
    """Stack ``other`` into ``ds`` in place (see `gammapipe.datasets.stacking`)."""
    from gammapipe.maps._wcs_ops import overlap_slices

    parent, child = _check_stackable(ds, other)
    if parent[0].stop == parent[0].start or parent[1].stop == parent[1].start:
        warnings.warn(
            f"stack: dataset {other.name!r} does not overlap {ds.name!r}; nothing stacked",
            stacklevel=3,
        )
        return
    mask_self = None if ds.mask_safe is None else np.asarray(ds.mask_safe.data, bool)
    mask_other = None if other.mask_safe is None else np.asarray(other.mask_safe.data, bool)
    img_self, img_other = _image_any(ds.mask_safe), _image_any(other.mask_safe)

    if ds.counts is not None and other.counts is not None:
        _stack_map(ds.counts, mask_self, _data_in_unit(other.counts, ds.counts.unit),
                   mask_other, parent, child, nan_to_num)

    if ds.background is not None and other.background is not None:
        own = None
        if ds.background_model is not None:
            own = ds._npred_background_data()
        _stack_map(ds.background, mask_self, other._npred_background_data(), mask_other,
                   parent, child, nan_to_num, data_self=own)
        if ds.background_model is not None:
            # the norm of this dataset's own model is now folded into the background map
            ds.background_model.reset_to_default()

    if ds.exposure is not None and other.exposure is not None:
        if _same_image(ds.exposure.geom, ds._geom) and _same_image(other.exposure.geom,
                                                                   other._geom):
            eparent, echild = parent, child
        else:
            eparent, echild = overlap_slices(ds.exposure.geom, other.exposure.geom)
        _stack_map(ds.exposure, img_self, _data_in_unit(other.exposure, ds.exposure.unit),
                   img_other, eparent, echild, nan_to_num)
        live_other = other.exposure.meta.get("livetime")
        if live_other is not None and (img_other is None or img_other.any()):
            live_other = u.Quantity(live_other)
            live_self = ds.exposure.meta.get("livetime")
            ds.exposure.meta["livetime"] = (live_other.copy() if live_self is None
                                            else u.Quantity(live_self) + live_other)

    if ds.psf is not None and other.psf is not None:
        weights = None
        if img_other is not None:
            w = mask_on_grid(img_other, other._geom, other.psf.psf_map.geom)
            weights = w.astype(float)
        ds.psf.stack(other.psf, weights=weights, nan_to_num=nan_to_num)

    if ds.edisp is not None and other.edisp is not None:
        ds.edisp.stack(other.edisp, weights=_edisp_weights(other), nan_to_num=nan_to_num)

    if ds.mask_safe is not None and other.mask_safe is not None:
        ds.mask_safe.data[(Ellipsis,) + parent] |= mask_other[(Ellipsis,) + child]
    elif ds.mask_safe is not None:
        ds.mask_safe.data[(Ellipsis,) + parent] = True  # all of ``other`` was stacked
    elif other.mask_safe is not None:
        from gammapipe.maps import Map

        ds.mask_safe = Map.from_geom(ds._geom, dtype=bool)
        ds.mask_safe.data[(Ellipsis,) + parent] = mask_other[(Ellipsis,) + child]

    if ds.mask_fit is not None and other.mask_fit is not None:
        ds.mask_fit.data[(Ellipsis,) + parent] |= np.asarray(other.mask_fit.data, bool)[
            (Ellipsis,) + child]

    if other.gti is not None:
        if ds.gti is None:
            ds.gti = other.gti.copy()
        else:
            ds.gti.stack(other.gti)
            ds.gti = ds.gti.union()

    if other.meta_table is not None:
        from astropy.table import vstack

        if ds.meta_table is None:
            ds.meta_table = other.meta_table.copy()
        else:
            ds.meta_table = vstack([ds.meta_table, other.meta_table], metadata_conflicts="silent")


def _edisp_weights(other):
    """Safe mask of ``other`` on its EDisp grid, shaped to broadcast to the EDisp map."""
    if other.mask_safe is None:
        return None
    edisp_geom = other.edisp.edisp_map.geom
    names = list(edisp_geom.axes.names)
    if "energy" in names and type(other.edisp).__name__ == "EDispKernelMap":
        mask = np.asarray(other.mask_safe.data, bool)
        if mask.shape[-3] == edisp_geom.axes["energy"].nbin:
            w = mask_on_grid(mask, other._geom, edisp_geom, method="linear")
            return w[None].astype(float)
    img = _image_any(other.mask_safe)
    return mask_on_grid(img, other._geom, edisp_geom, method="linear").astype(float)


def _kwargs_common(ds, name):
    from .core import make_name

    return {
        "gti": None if ds.gti is None else ds.gti.copy(),
        "meta_table": None if ds.meta_table is None else ds.meta_table.copy(),
        "meta": _copy.deepcopy(ds.meta),
        "name": make_name(name),
    }


def cutout(ds, position, width, mode="trim", name=None):
    """Cut out all maps of ``ds`` around ``position`` (see `MapDataset.cutout`).

    The position is converted to the frame of the counts geometry once, the cutout
    geometry and its pixel slices are computed once for all the maps on the counts image
    grid (counts, exposure, background, masks), and the data are sliced directly.
    """
    from gammapipe.maps._wcs_utils import skydir_to_lonlat

    kwargs = _kwargs_common(ds, name)
    geom = ds._geom
    info = None
    if getattr(geom, "_cutout_info", None) is not None:
        lonlat = skydir_to_lonlat(position, geom.frame)
        info = geom._cutout_info(lonlat, width, mode=mode)
    for key in ("counts", "exposure", "background", "mask_safe", "mask_fit"):
        m = getattr(ds, key)
        if m is None:
            continue
        if info is not None and _same_image(geom, m.geom):
            cut, parent, child = info
            cut = cut._with_same_image(cut, m.geom.axes)
            kwargs[key] = m._cutout_with_slices(cut, parent, child)
        else:
            kwargs[key] = m.cutout(position=position, width=width, mode=mode)
    for key in ("psf", "edisp"):
        irf = getattr(ds, key)
        if irf is not None:
            pos = position
            if info is not None and getattr(irf.geom, "frame", None) == geom.frame:
                pos = lonlat
            kwargs[key] = irf.cutout(position=pos, width=width, mode=mode)
    return ds.__class__(**kwargs)


def _slice_map(m, slices):
    own = {k: v for k, v in slices.items() if k in m.geom.axes.names}
    return m.slice_by_idx(own) if own else m.copy()


def slice_by_idx(ds, slices, name=None):
    """Slice non-spatial axes of all maps (keys: ``energy``, ``energy_true``)."""
    kwargs = _kwargs_common(ds, name)
    for key in ("counts", "exposure", "mask_safe", "mask_fit"):
        m = getattr(ds, key)
        if m is not None:
            kwargs[key] = _slice_map(m, slices)
    if ds.background is not None:
        # the raw background: the FoV background model travels with the models, so applying
        # its norm here as well would count it twice once models are set again
        kwargs["background"] = _slice_map(ds.background, slices)
    for key in ("psf", "edisp"):
        irf = getattr(ds, key)
        if irf is not None:
            names = irf.geom.axes.names
            own = {k: v for k, v in slices.items() if k in names}
            kwargs[key] = irf.slice_by_idx(own) if own else irf.copy()
    return ds.__class__(**kwargs)


def slice_by_energy(ds, energy_min=None, energy_max=None, name=None):
    """Reco-energy bins between the edges nearest to ``energy_min`` and ``energy_max``."""
    axis = ds._geom.axes["energy"]
    edges = axis.edges
    emin = edges[0] if energy_min is None else u.Quantity(energy_min)
    emax = edges[-1] if energy_max is None else u.Quantity(energy_max)
    log_edges = np.log(edges.to_value(axis.unit))
    i0 = int(np.argmin(np.abs(log_edges - np.log(emin.to_value(axis.unit)))))
    i1 = int(np.argmin(np.abs(log_edges - np.log(emax.to_value(axis.unit)))))
    if i1 <= i0:
        raise GeometryError(
            f"slice_by_energy: no energy bin between {emin} and {emax} (edges {edges})"
        )
    return slice_by_idx(ds, {"energy": slice(i0, i1)}, name=name)


def resample_energy_axis(ds, energy_axis, name=None):
    """Regroup the reco energy bins onto ``energy_axis`` (sums inside the safe mask)."""
    from gammapipe.irf.edisp_map import EDispKernelMap

    kwargs = _kwargs_common(ds, name)
    weights = ds.mask_safe
    if ds.counts is not None:
        kwargs["counts"] = ds.counts.resample_axis(energy_axis, weights=weights)
    if ds.background is not None:
        kwargs["background"] = ds.npred_background().resample_axis(energy_axis,
                                                                   weights=weights)
    for key in ("mask_safe", "mask_fit"):
        m = getattr(ds, key)
        if m is not None:
            kwargs[key] = m.resample_axis(energy_axis, ufunc=np.logical_or)
    if ds.exposure is not None:
        kwargs["exposure"] = ds.exposure.copy()
    if ds.psf is not None:
        kwargs["psf"] = ds.psf.copy()
    if ds.edisp is not None:
        if isinstance(ds.edisp, EDispKernelMap):
            w = _edisp_weights(ds)
            if w is not None and w.shape[-3] != ds.edisp.edisp_map.data.shape[-3]:
                w = None
            kwargs["edisp"] = ds.edisp.resample_energy_axis(energy_axis, weights=w)
        else:
            kwargs["edisp"] = ds.edisp.copy()
    return ds.__class__(**kwargs)


def to_image(ds, name=None):
    """One reco-energy bin spanning the full axis."""
    return resample_energy_axis(ds, ds._geom.axes["energy"].squash(), name=name)


def downsample(ds, factor, axis_name=None, name=None):
    """Merge ``factor`` pixels (sums of masked counts/background, mean exposure, any of
    the masks) or ``factor`` bins of the reco ``energy`` axis."""
    if axis_name == "energy":
        return resample_energy_axis(ds, ds._geom.axes["energy"].downsample(factor), name=name)
    if axis_name is not None:
        raise GeometryError(
            f"downsample: axis_name must be None (spatial) or 'energy', got {axis_name!r}"
        )
    kwargs = _kwargs_common(ds, name)
    if ds.counts is not None:
        kwargs["counts"] = ds.counts.downsample(factor, preserve_counts=True,
                                                weights=ds.mask_safe)
    if ds.background is not None:
        kwargs["background"] = ds.npred_background().downsample(
            factor, preserve_counts=True, weights=ds.mask_safe)
    if ds.exposure is not None:
        kwargs["exposure"] = ds.exposure.downsample(factor, preserve_counts=False)
    for key in ("mask_safe", "mask_fit"):
        m = getattr(ds, key)
        if m is not None:
            kwargs[key] = m.downsample(factor, preserve_counts=False)
    for key in ("psf", "edisp"):
        irf = getattr(ds, key)
        if irf is not None:
            kwargs[key] = irf.copy()
    return ds.__class__(**kwargs)


def pad(ds, pad_width, mode="constant", name=None):
    """Pad counts (0), exposure and background (``mode``) and masks (False)."""
    kwargs = _kwargs_common(ds, name)
    if ds.counts is not None:
        kwargs["counts"] = ds.counts.pad(pad_width, mode="constant", cval=0)
    if ds.exposure is not None:
        kwargs["exposure"] = ds.exposure.pad(pad_width, mode=mode)
    if ds.background is not None:
        kwargs["background"] = ds.npred_background().pad(pad_width, mode=mode)
    for key in ("mask_safe", "mask_fit"):
        m = getattr(ds, key)
        if m is not None:
            kwargs[key] = m.pad(pad_width, mode="constant", cval=False)
    for key in ("psf", "edisp"):
        irf = getattr(ds, key)
        if irf is not None:
            kwargs[key] = irf.copy()
    return ds.__class__(**kwargs)


def to_masked(ds, name=None, nan_to_num=True):
    """Stack ``ds`` onto an empty dataset of the same geometries (applies the safe mask)."""
    geoms = ds.geoms
    reference_time = ds.gti.time_ref if ds.gti is not None else "2000-01-01"
    new = ds.__class__.from_geoms(**geoms, reference_time=reference_time, name=name)
    if ds.gti is None:
        new.gti = None
    new.stack(ds, nan_to_num=nan_to_num)
    return new

"""Region masks and weights of `WcsGeom` (pixel centres / sub-pixels inside sky regions)."""

from __future__ import annotations

import numpy as np

from ._wcs_utils import parse_regions, sky_region_to_pixel

__all__ = ["WcsRegionsMixin"]


class WcsRegionsMixin:
    """`WcsGeom` methods selecting pixels by sky or pixel regions."""

    def _image_region_mask(self, regions) -> np.ndarray:
        from regions import PixCoord, PixelRegion

        regions = parse_regions(regions)
        ny, nx = self.data_shape_image
        mask = np.zeros((ny, nx), dtype=bool)
        for region in regions:
            region = sky_region_to_pixel(region, self._wcs)
            if not isinstance(region, PixelRegion):
                raise TypeError(f"argument 'regions': unsupported {type(region).__name__}")
            try:
                bbox = region.bounding_box
                ixmin, ixmax = max(bbox.ixmin, 0), min(bbox.ixmax, nx)
                iymin, iymax = max(bbox.iymin, 0), min(bbox.iymax, ny)
            except (AttributeError, NotImplementedError, ValueError, TypeError):
                ixmin, ixmax, iymin, iymax = 0, nx, 0, ny
            if ixmax <= ixmin or iymax <= iymin:
                continue
            xx, yy = np.meshgrid(np.arange(ixmin, ixmax), np.arange(iymin, iymax))
            inside = np.asarray(region.contains(PixCoord(xx, yy)), dtype=bool)
            mask[iymin:iymax, ixmin:ixmax] |= inside
        return mask

    def region_mask(self, regions, inside: bool = True):
        """Boolean `WcsNDMap` (this geometry) of the pixel centres inside ``regions``.

        Parameters
        ----------
        regions : region, list of regions, `~regions.Regions` or DS9 string
            Sky or pixel regions (union).
        inside : bool
            True inside the regions (or outside with ``inside=False``).
        """
        from .wcs_map import WcsNDMap

        mask = self._image_region_mask(regions)
        if not inside:
            mask = ~mask
        data = np.broadcast_to(mask, self.data_shape).copy()
        return WcsNDMap(geom=self, data=data, dtype=bool)

    def region_weights(self, regions, oversampling_factor: int = 10):
        """Fraction of each pixel inside ``regions`` (on ``oversampling_factor**2`` subpixels)."""
        from .wcs_map import WcsNDMap

        factor = int(oversampling_factor)
        fine = self.to_image().upsample(factor)._image_region_mask(regions)
        ny, nx = self.data_shape_image
        weights = fine.reshape(ny, factor, nx, factor).mean(axis=(1, 3))
        data = np.broadcast_to(weights, self.data_shape).astype("float32")
        return WcsNDMap(geom=self, data=data, dtype="float32")

"""GADF / OGIP I/O of the IRF classes: round trips and errors on bad input.

Uses HESS DL3 DR1 (H.E.S.S. collaboration) and the gammapy 2.1 reference RMF.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from gammapipe.irf import (
    IRF_REGISTRY,
    PSF3D,
    Background2D,
    Background3D,
    EDispKernel,
    EffectiveAreaTable2D,
    EnergyDispersion2D,
    PSFKing,
    RadMax2D,
    load_irf_hdu,
)
from gammapipe.maps import MapAxis
from gammapipe.utils.errors import (
    FITSFormatError,
    GeometryError,
    MissingFileError,
    MissingHDUError,
    UnitError,
)


@pytest.fixture(scope="module")
def hess_file(hess_dir):
    return hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"


@pytest.mark.parametrize(
    "cls, hdu",
    [
        (EffectiveAreaTable2D, "AEFF"),
        (EnergyDispersion2D, "EDISP"),
        (PSF3D, "PSF"),
        (Background3D, "BKG"),
    ],
)
def test_round_trip_hess(cls, hdu, hess_file, tmp_path):
    irf = cls.read(hess_file, hdu=hdu)
    path = tmp_path / f"{hdu}.fits.gz"
    irf.write(path)
    back = cls.read(path)
    assert back.axes.names == irf.axes.names
    for a, b in zip(irf.axes, back.axes, strict=True):
        assert_allclose(a.edges.value, b.edges.to_value(a.unit), rtol=1e-7)
        assert a.node_type == b.node_type
    assert_allclose(back.data, irf.data, rtol=0, atol=0)
    assert back.unit == irf.unit
    assert back.is_allclose(irf)
    assert back.meta.get("LO_THRES") == irf.meta.get("LO_THRES")
    # same table layout as the original file (TDIM order)
    with fits.open(hess_file) as orig, fits.open(path) as new:
        column = {"AEFF": "EFFAREA", "EDISP": "MATRIX", "PSF": "RPSF", "BKG": "BKG"}[hdu]
        assert orig[hdu].data[column].shape == new[1].data[column].shape
        assert_allclose(new[1].data[column], orig[hdu].data[column])
    with pytest.raises(FileExistsError):
        irf.write(path)
    irf.write(path, overwrite=True)


def test_round_trip_analytic(tmp_path):
    e_axis = MapAxis.from_energy_bounds("0.1 TeV", "10 TeV", nbin=5, name="energy_true")
    o_axis = MapAxis.from_edges([0, 1, 2] * u.deg, name="offset")
    king = PSFKing(
        axes=[e_axis, o_axis],
        data={"gamma": np.full((5, 2), 2.5), "sigma": np.full((5, 2), 0.1) * u.deg},
    )
    king.write(tmp_path / "king.fits")
    back = load_irf_hdu(tmp_path / "king.fits", 1)
    assert isinstance(back, PSFKing) and back.is_allclose(king)
    reco = MapAxis.from_energy_bounds("0.1 TeV", "10 TeV", nbin=5, name="energy")
    rad_max = RadMax2D(
        axes=[reco, o_axis],
        data=np.linspace(0.1, 0.2, 10).reshape(5, 2),
        unit="deg",
        is_pointlike=True,
    )
    rad_max.write(tmp_path / "rad.fits")
    back = RadMax2D.read(tmp_path / "rad.fits")
    assert back.is_allclose(rad_max, rtol=1e-12) and back.is_pointlike
    bkg = Background2D.from_parametrization()
    bkg.write(tmp_path / "bkg2d.fits")
    assert Background2D.read(tmp_path / "bkg2d.fits").is_allclose(bkg, rtol=1e-12)


def test_registry_and_detection(hess_file):
    assert set(IRF_REGISTRY) == {
        "aeff_2d",
        "edisp_2d",
        "psf_table",
        "psf_3gauss",
        "psf_king",
        "bkg_3d",
        "bkg_2d",
        "rad_max_2d",
    }
    assert IRF_REGISTRY["aeff_2d"].read(hess_file, hdu="AEFF").data.shape == (96, 6)
    # default HDU: first HDU of the class
    assert PSF3D.read(hess_file).data.shape == (32, 6, 144)
    with pytest.raises(ValueError, match="unknown hdu_class"):
        load_irf_hdu(hess_file, "AEFF", hdu_class="aeff_9d")


def test_rmf_reference(reference_dir, tmp_path):
    path = reference_dir / "makers_map-obs-23523_rmf.fits.gz"
    kernel = EDispKernel.read(path)
    assert kernel.data.shape == (31, 11)
    with fits.open(path) as hdulist:
        matrix = hdulist["MATRIX"].data
        ebounds = hdulist["EBOUNDS"].data
        for i in range(len(matrix)):
            f = int(matrix["F_CHAN"][i][0])
            n = int(matrix["N_CHAN"][i][0])
            assert_allclose(kernel.data[i, f : f + n], matrix["MATRIX"][i], rtol=0, atol=0)
            assert np.all(kernel.data[i, :f] == 0) and np.all(kernel.data[i, f + n :] == 0)
        assert_allclose(kernel.axes["energy"].edges.value[:-1], ebounds["E_MIN"])
        assert_allclose(kernel.axes["energy_true"].edges.value[:-1], matrix["ENERG_LO"])
    out = tmp_path / "rmf.fits"
    kernel.write(out)
    back = EDispKernel.read(out)
    assert_allclose(back.data, kernel.data, rtol=0, atol=0)
    with fits.open(path) as a, fits.open(out) as b:
        for column in ("N_GRP", "F_CHAN", "N_CHAN", "MATRIX", "ENERG_LO"):
            for x, y in zip(a["MATRIX"].data[column], b["MATRIX"].data[column], strict=True):
                assert np.array_equal(np.asarray(x), np.asarray(y))
        assert b["MATRIX"].header["DETCHANS"] == 11
        assert b["MATRIX"].header["HDUCLAS2"] == "RSP_MATRIX"
    # Sherpa flavour: energies in keV
    kernel.write(tmp_path / "sherpa.fits", format="ogip-sherpa")
    sherpa = EDispKernel.read(tmp_path / "sherpa.fits")
    assert sherpa.axes["energy"].unit == u.keV
    assert_allclose(
        sherpa.axes["energy"].edges.to_value(u.TeV),
        kernel.axes["energy"].edges.to_value(u.TeV),
        rtol=1e-12,
    )
    assert_allclose(sherpa.data, kernel.data)
    assert kernel.to_table()["N_GRP"].sum() == 31
    with pytest.raises(ValueError, match="unsupported format"):
        kernel.to_hdulist(format="gadf-dl3")


def _modify(src, dst, hdu_name, drop=None, units=None):
    """Copy ``src`` to ``dst`` rebuilding HDU ``hdu_name`` without column ``drop`` and
    with the column units of ``units`` (name -> unit string or None)."""
    with fits.open(src) as hdulist:
        hdus = [h.copy() for h in hdulist]
        old = hdulist[hdu_name]
        columns = []
        for col in old.columns:
            if col.name == drop:
                continue
            unit = (units or {}).get(col.name, col.unit)
            columns.append(
                fits.Column(
                    name=col.name,
                    format=col.format,
                    unit=unit,
                    dim=col.dim,
                    array=old.data[col.name],
                )
            )
        new = fits.BinTableHDU.from_columns(columns, name=hdu_name)
        for key in ("HDUCLASS", "HDUCLAS1", "HDUCLAS2", "HDUCLAS3", "HDUCLAS4"):
            new.header[key] = old.header[key]
        index = [h.name for h in hdulist].index(hdu_name)
        hdus[index] = new
        fits.HDUList(hdus).writeto(dst)
    return dst


def test_bad_inputs(hess_file, tmp_path):
    with pytest.raises(MissingFileError, match="nothere"):
        EffectiveAreaTable2D.read(tmp_path / "nothere.fits")
    with pytest.raises(MissingHDUError, match="NOPE"):
        EffectiveAreaTable2D.read(hess_file, hdu="NOPE")
    # wrong HDU class
    with pytest.raises(FITSFormatError, match="edisp_2d") as err:
        EffectiveAreaTable2D.read(hess_file, hdu="EDISP")
    assert "hess_dl3_dr1_obs_id_023523" in str(err.value) and "EDISP" in str(err.value)
    # not a table
    with pytest.raises(FITSFormatError, match="binary table"):
        EffectiveAreaTable2D.read(hess_file, hdu=0)
    # corrupt (truncated gzip) file
    bad = tmp_path / "truncated.fits.gz"
    data = hess_file.read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises((FITSFormatError, MissingHDUError), match="truncated.fits.gz"):
        Background3D.read(bad, hdu="BKG")
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"this is not a FITS file" * 200)
    with pytest.raises(FITSFormatError, match="garbage.fits"):
        EffectiveAreaTable2D.read(garbage, hdu="AEFF")
    # missing data column
    path = _modify(hess_file, tmp_path / "nocol.fits", "AEFF", drop="EFFAREA")
    with pytest.raises(FITSFormatError, match=r"nocol.fits \[HDU AEFF\].*EFFAREA"):
        EffectiveAreaTable2D.read(path, hdu="AEFF")
    # missing axis column
    path = _modify(hess_file, tmp_path / "noaxis.fits", "AEFF", drop="THETA_HI")
    with pytest.raises(FITSFormatError, match="THETA"):
        EffectiveAreaTable2D.read(path, hdu="AEFF")
    # wrong units
    path = _modify(hess_file, tmp_path / "unit.fits", "AEFF", units={"EFFAREA": "deg"})
    with pytest.raises(UnitError, match=r"unit.fits \[HDU AEFF\].*EFFAREA"):
        EffectiveAreaTable2D.read(path, hdu="AEFF")
    path = _modify(hess_file, tmp_path / "nounit.fits", "AEFF", units={"EFFAREA": None})
    with pytest.raises(UnitError, match="no unit"):
        EffectiveAreaTable2D.read(path, hdu="AEFF")
    path = _modify(hess_file, tmp_path / "axisunit.fits", "AEFF", units={"ENERG_LO": "deg"})
    with pytest.raises(UnitError, match="ENERG_LO"):
        EffectiveAreaTable2D.read(path, hdu="AEFF")


def test_api_errors():
    e_axis = MapAxis.from_energy_bounds("0.1 TeV", "10 TeV", nbin=5, name="energy_true")
    o_axis = MapAxis.from_edges([0, 1, 2] * u.deg, name="offset")
    with pytest.raises(GeometryError, match="axes must be"):
        EffectiveAreaTable2D(axes=[o_axis, e_axis])
    with pytest.raises(GeometryError, match="shape"):
        EffectiveAreaTable2D(axes=[e_axis, o_axis], data=np.ones((3, 3)), unit="m2")
    aeff = EffectiveAreaTable2D(axes=[e_axis, o_axis], data=1.0, unit="m2")
    with pytest.raises(UnitError, match="offset"):
        aeff.evaluate(energy_true=1 * u.TeV, offset=1 * u.TeV)
    with pytest.raises(ValueError, match="unknown axis"):
        aeff.evaluate(energy=1 * u.TeV)
    assert aeff.to_unit("cm2").data[0, 0] == pytest.approx(1e4)
    with pytest.raises(UnitError):
        aeff.to_unit("s")


def test_detect_hdu_class_keywords_and_columns():
    from gammapipe.irf.io import detect_hdu_class

    header = fits.Header({"HDUCLAS2": "EFF_AREA", "HDUCLAS4": "2D"})  # CTA 1DC spelling
    assert detect_hdu_class(header) == "aeff_2d"
    header = fits.Header({"HDUCLAS2": "RPSF", "HDUCLAS4": "3GAUSS"})
    assert detect_hdu_class(header) == "psf_3gauss"
    for columns, tag in [
        (["ENERG_LO", "THETA_LO", "AEFF"], "aeff_2d"),
        (["ENERG_LO", "MIGRA_LO", "THETA_LO", "MATRIX"], "edisp_2d"),
        (["ENERG_LO", "RAD_LO", "RPSF"], "psf_table"),
        (["SIGMA_1", "AMPL_2", "SIGMA_2"], "psf_3gauss"),
        (["GAMMA", "SIGMA"], "psf_king"),
        (["DETX_LO", "BGD"], "bkg_3d"),
        (["THETA_LO", "BKG"], "bkg_2d"),
        (["ENERG_LO", "RAD_MAX"], "rad_max_2d"),
    ]:
        header = fits.Header({f"TTYPE{i + 1}": c for i, c in enumerate(columns)})
        assert detect_hdu_class(header) == tag
    with pytest.raises(FITSFormatError, match="cannot identify"):
        detect_hdu_class(fits.Header({"TTYPE1": "FOO"}), "file.fits [HDU X]")


def test_read_without_hduclas(tmp_path):
    e_axis = MapAxis.from_energy_bounds("0.1 TeV", "10 TeV", nbin=5, name="energy_true")
    o_axis = MapAxis.from_edges([0, 1, 2] * u.deg, name="offset")
    aeff = EffectiveAreaTable2D(
        axes=[e_axis, o_axis], data=np.arange(10.0).reshape(5, 2), unit="cm2"
    )
    hdu = aeff.to_table_hdu()
    for key in ("HDUCLAS1", "HDUCLAS2", "HDUCLAS3", "HDUCLAS4"):
        del hdu.header[key]
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "noclas.fits")
    back = load_irf_hdu(tmp_path / "noclas.fits", "EFFECTIVE AREA")
    assert isinstance(back, EffectiveAreaTable2D)
    assert back.unit == u.cm**2
    assert_allclose(back.data, aeff.data)

"""FluxPoints container: tables, SED conversions, I/O, plots.

Uses the gammapy 2.1 reference flux points of the low-level Crab workflow (HESS DL3 DR1,
H.E.S.S. collaboration) as input tables.
"""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from gammapipe.estimators import FluxPoints
from gammapipe.modeling.models import PowerLawSpectralModel
from gammapipe.utils.errors import FITSFormatError

# best-fit Crab spectrum of the reference workflow
CRAB = dict(index=2.602364, amplitude=4.59208e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)


def _table(rec):
    t = Table()
    for name, values in rec["columns"].items():
        unit = rec["units"][name]
        t[name] = np.array(values) * u.Unit(unit) if unit else np.array(values)
    return t


@pytest.fixture(scope="module")
def ref_tables(reference_dir):
    data = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())
    return data["flux_points_errn_errp_ul"]


@pytest.fixture()
def fp(ref_tables):
    return FluxPoints.from_table(_table(ref_tables["likelihood"]),
                                 reference_model=PowerLawSpectralModel(**CRAB))


def test_from_likelihood_table_conversions(fp, ref_tables):
    for sed in ("dnde", "e2dnde"):
        table = fp.to_table(sed)
        rec = ref_tables[sed]
        assert table.colnames == list(rec["columns"])
        for name in rec["columns"]:
            got = np.asarray(table[name], dtype=float).ravel()
            exp = np.asarray(rec["columns"][name], dtype=float).ravel()
            np.testing.assert_allclose(got, exp, rtol=1e-6, err_msg=name)
            assert (table[name].unit or u.Unit("")) == u.Unit(rec["units"][name])
    # flux / eflux: norm x the reference integrals of the table (exact), which agree with
    # the integrals of the (rounded) best-fit power law
    lk = ref_tables["likelihood"]["columns"]
    flux = fp.flux.quantity.ravel().to_value("cm-2 s-1")
    np.testing.assert_allclose(flux, np.multiply(lk["norm"], lk["ref_flux"]), rtol=1e-12)
    edges = fp.energy_axis.edges
    model_flux = PowerLawSpectralModel(**CRAB).integral(edges[:-1], edges[1:])
    np.testing.assert_allclose(lk["ref_flux"], model_flux.to_value("cm-2 s-1"), rtol=1e-5)
    assert fp.eflux_ul.unit == u.Unit("erg cm-2 s-1")
    np.testing.assert_allclose(fp.sqrt_ts.data.ravel(), np.sqrt(fp.ts.data.ravel()))
    assert not fp.is_ul.data.any()
    fp.sqrt_ts_threshold_ul = 20  # third point (sqrt_ts 18.25) becomes an upper limit
    assert fp.is_ul.data.ravel().tolist() == [False, False, True]


@pytest.mark.parametrize("suffix", [".fits", ".fits.gz", ".ecsv"])
def test_write_read_roundtrip(fp, tmp_path, suffix):
    path = tmp_path / f"fp{suffix}"
    fp.write(path)
    with pytest.raises(FileExistsError):
        fp.write(path)
    back = FluxPoints.read(path)
    for sed in ("likelihood", "dnde", "flux", "eflux"):
        a, b = fp.to_table(sed), back.to_table(sed)
        assert a.colnames == b.colnames
        for name in a.colnames:
            np.testing.assert_allclose(np.asarray(a[name], float), np.asarray(b[name], float),
                                       rtol=1e-12, err_msg=f"{sed} {name}")
    assert back.n_sigma_ul == 2


def test_dnde_table_without_reference_model(tmp_path):
    t = Table()
    t["e_ref"] = [1.0, 2.0, 4.0] * u.TeV
    t["dnde"] = [1e-11, 2e-12, 3e-13] * u.Unit("cm-2 s-1 TeV-1")
    t["dnde_err"] = [1e-12, 2e-13, 3e-14] * u.Unit("cm-2 s-1 TeV-1")
    t.meta["SED_TYPE"] = "dnde"
    fp = FluxPoints.from_table(t)
    assert fp.sed_type_init == "dnde"
    np.testing.assert_allclose(fp.dnde.quantity.ravel().to_value("cm-2 s-1 TeV-1"),
                               [1e-11, 2e-12, 3e-13], rtol=1e-12)
    e2 = fp.e2dnde.quantity.ravel().to_value("TeV cm-2 s-1")
    np.testing.assert_allclose(e2, [1e-11, 8e-12, 4.8e-12], rtol=1e-12)
    table = fp.to_table()
    assert table.colnames[:5] == ["e_ref", "e_min", "e_max", "dnde", "dnde_err"]
    bad = Table({"e_ref": [1.0] * u.TeV, "foo": [1.0]})
    with pytest.raises(FITSFormatError, match="SED type"):
        FluxPoints.from_table(bad)


def test_plots(fp, tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    fp.sqrt_ts_threshold_ul = 20
    fp.plot(ax=ax, sed_type="e2dnde")
    assert ax.get_xscale() == "log"
    assert "erg" in ax.get_ylabel()
    # two errorbar containers: detections and upper-limit arrows
    assert len(ax.containers) == 2
    fig.savefig(tmp_path / "fp.png")
    plt.close(fig)
    assert (tmp_path / "fp.png").stat().st_size > 1000


def test_ts_profiles_and_recompute_ul(tmp_path):
    """Parabolic profiles stat = stat0 + ((norm - 1) / 0.1)^2 -> UL(2 sigma) = 1.2."""
    import matplotlib.pyplot as plt

    scan = np.tile(np.linspace(0.5, 1.6, 23), (2, 1))
    t = Table()
    t["e_min"] = [1.0, 2.0] * u.TeV
    t["e_max"] = [2.0, 4.0] * u.TeV
    t["norm"] = [1.0, 1.0]
    t["norm_err"] = [0.1, 0.1]
    t["ts"] = [100.0, 100.0]
    t["stat"] = [10.0, 20.0]
    t["norm_scan"] = scan
    t["stat_scan"] = np.array([[10.0], [20.0]]) + ((scan - 1) / 0.1) ** 2
    t["success"] = [True, True]
    fp = FluxPoints.from_table(t, sed_type="likelihood")
    fp2 = fp.recompute_ul(n_sigma_ul=2)
    np.testing.assert_allclose(fp2.norm_ul.data.ravel(), [1.2, 1.2], rtol=1e-3)
    fig, ax = plt.subplots()
    fp.plot_ts_profiles(ax=ax, sed_type="likelihood")
    fig.savefig(tmp_path / "prof.png")
    plt.close(fig)
    assert len(ax.collections) == 2

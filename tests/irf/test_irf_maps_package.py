"""IRF maps live in gammapipe.irf: layering (irf never loads gammapipe.datasets), the public
import paths (``gammapipe.irf`` and the re-exports of ``gammapipe.datasets``) and the shared
IRF-map stacking rules."""

from __future__ import annotations

import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest

IRF_MAP_NAMES = ("IRFMap", "PSFMap", "PSFKernel", "EDispKernelMap", "EDispMap")
ALLOWED_LAYERS = ("gammapipe.utils", "gammapipe.maps", "gammapipe.irf")


def _loaded_gammapipe_modules(statement: str) -> list[str]:
    code = (
        f"import sys; {statement}; "
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('gammapipe'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return [m for m in out.stdout.split() if m]


@pytest.mark.parametrize("statement", [
    "import gammapipe.irf.psf_map",
    "import gammapipe.irf.edisp_map",
    "import gammapipe.irf.irf_map",
    "from gammapipe.irf import PSFMap, PSFKernel, EDispKernelMap, EDispMap, IRFMap",
])
def test_irf_maps_do_not_load_datasets(statement):
    loaded = _loaded_gammapipe_modules(statement)
    assert "gammapipe.irf.irf_map" in loaded
    assert [m for m in loaded if m.startswith("gammapipe.datasets")] == []
    higher = [m for m in loaded if m != "gammapipe" and not m.startswith(ALLOWED_LAYERS)]
    assert higher == [], f"{statement!r} loads modules above the irf layer: {higher}"


def test_irf_map_plotting_does_not_load_datasets_or_matplotlib():
    code = (
        "import sys, gammapipe.irf.map_plotting; "
        "print(sorted(m for m in sys.modules if m.startswith(('gammapipe.datasets', "
        "'matplotlib'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_in_irf_and_datasets_are_the_same_classes():
    import gammapipe.datasets as datasets
    import gammapipe.irf as irf
    from gammapipe.irf.edisp_map import EDispKernelMap, EDispMap
    from gammapipe.irf.irf_map import IRFMap
    from gammapipe.irf.psf_map import PSFKernel, PSFMap

    expected = {"IRFMap": IRFMap, "PSFMap": PSFMap, "PSFKernel": PSFKernel,
                "EDispKernelMap": EDispKernelMap, "EDispMap": EDispMap}
    for name, cls in expected.items():
        assert getattr(irf, name) is cls
        assert getattr(datasets, name) is cls
        assert name in irf.__all__ and name in dir(irf)
        assert name in datasets.__all__ and name in dir(datasets)
        assert cls.__module__.startswith("gammapipe.irf.")
    assert issubclass(PSFMap, IRFMap) and issubclass(EDispKernelMap, IRFMap)
    assert issubclass(EDispMap, IRFMap)
    # the local lazy names of gammapipe.datasets still resolve, unknown ones still fail
    assert datasets.MapDataset.__module__ == "gammapipe.datasets.map_dataset"
    with pytest.raises(AttributeError, match="no attribute 'NotAMap'"):
        datasets.NotAMap  # noqa: B018


def test_dataset_stacking_reuses_irf_rules():
    from gammapipe.datasets import stacking
    from gammapipe.irf import _map_stacking

    for name in ("safe_divide", "stack_irf_arrays", "stack_irf_inplace"):
        assert getattr(stacking, name) is getattr(_map_stacking, name)
        assert name in stacking.__all__


def test_irf_map_stacking_rule_numbers():
    from gammapipe.irf._map_stacking import stack_irf_arrays, stack_irf_inplace

    # IRF axis 0 (2 bins), 3 pixels; exposures squashed on the IRF axis
    irf = np.array([[0.2, 0.4, 1.0], [0.8, 0.6, 0.0]])
    exp = np.array([[1.0, 2.0, 0.0]])
    irf_o = np.array([[0.5, np.nan, 0.3], [0.5, 0.1, 0.7]])
    exp_o = np.array([[3.0, 2.0, 4.0]])
    w = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    out, exposure = stack_irf_arrays(irf, exp, irf_o, exp_o, w, irf_axis=0)
    # pixel 0: (0.2*1 + 0.5*3) / 4 ; pixel 1: bin 0 weight 0, bin 1: (0.6*2 + 0.1*2) / 4
    # pixel 2: no weight and no own exposure -> 0
    np.testing.assert_allclose(out, [[1.7 / 4, 0.8 / 4, 0.0], [(0.8 + 1.5) / 4, 1.4 / 4, 0.0]])
    np.testing.assert_allclose(exposure, [[4.0, 4.0, 0.0]])
    irf_work = irf.copy()
    exp_work = exp.copy()
    stack_irf_inplace(irf_work, exp_work, irf_o, exp_o, w, irf_axis=0)
    np.testing.assert_array_equal(irf_work, out)
    np.testing.assert_array_equal(exp_work, exposure)


def test_psf_map_stack_via_irf_import():
    from gammapipe.irf import PSFMap
    from gammapipe.maps import MapAxis, WcsGeom

    e_true = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.5, width=1.0, frame="galactic")
    a = PSFMap.from_gauss(e_true, sigma=0.1 * u.deg, geom=geom)
    b = PSFMap.from_gauss(e_true, sigma=0.1 * u.deg, geom=geom)
    b.exposure_map.data[...] = 3.0
    a.stack(b)
    np.testing.assert_allclose(a.exposure_map.data, 4.0)
    # same Gaussian in both: the exposure-weighted mean keeps the 68% radius 1.5096 sigma
    r68 = a.containment_radius(0.68, 3 * u.TeV).to_value("deg")
    assert r68 == pytest.approx(0.1 * np.sqrt(-2 * np.log(0.32)), abs=1e-3)

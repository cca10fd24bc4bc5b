"""Models: spectral, spatial, temporal, sky models and model collections.

Names are resolved lazily (module imported on first access) to keep imports cheap.
``MODEL_REGISTRY`` maps model type -> tag -> class; use `get_model_class` to look up a tag.
"""

from __future__ import annotations

import importlib

_SPECTRAL = (
    "SpectralModel",
    "PowerLawSpectralModel",
    "PowerLaw2SpectralModel",
    "BrokenPowerLawSpectralModel",
    "SmoothBrokenPowerLawSpectralModel",
    "ExpCutoffPowerLawSpectralModel",
    "ExpCutoffPowerLaw3FGLSpectralModel",
    "SuperExpCutoffPowerLaw4FGLSpectralModel",
    "SuperExpCutoffPowerLaw4FGLDR3SpectralModel",
    "LogParabolaSpectralModel",
    "ConstantSpectralModel",
    "GaussianSpectralModel",
    "PowerLawNormSpectralModel",
    "ExpCutoffPowerLawNormSpectralModel",
    "LogParabolaNormSpectralModel",
)
_SPECTRAL_COMPOUND = (
    "CompoundSpectralModel",
    "TemplateSpectralModel",
    "ScaleSpectralModel",
    "PiecewiseNormSpectralModel",
)
_TEMPORAL = (
    "TemporalModel",
    "ConstantTemporalModel",
    "LinearTemporalModel",
    "ExpDecayTemporalModel",
    "GaussianTemporalModel",
    "PowerLawTemporalModel",
    "SineTemporalModel",
    "LightCurveTemplateTemporalModel",
)
_SPATIAL = (
    "SpatialModel",
    "PointSpatialModel",
    "GaussianSpatialModel",
    "GeneralizedGaussianSpatialModel",
    "DiskSpatialModel",
    "ShellSpatialModel",
    "Shell2SpatialModel",
    "ConstantSpatialModel",
    "ConstantFluxSpatialModel",
    "TemplateSpatialModel",
)
_SKY = ("SkyModel", "FoVBackgroundModel", "TemplateNPredModel")
_COLLECTIONS = ("Models", "DatasetModels")

_INDEX: dict[str, tuple[str, ...]] = {
    "ModelBase": ("core",),
    "MODEL_REGISTRY": ("core",),
    "get_model_class": ("core",),
    **{name: ("spectral",) for name in _SPECTRAL},
    **{name: ("spectral_compound",) for name in _SPECTRAL_COMPOUND},
    "EBLAbsorptionNormSpectralModel": ("spectral_ebl",),
    "EBL_DATA_BUILTIN": ("spectral_ebl",),
    **{name: ("temporal",) for name in _TEMPORAL},
    **{name: ("spatial", "spatial_template") for name in _SPATIAL},
    **{name: ("sky",) for name in _SKY},
    **{name: ("collections",) for name in _COLLECTIONS},
}

__all__ = list(_INDEX)


def __getattr__(name: str):
    modules = _INDEX.get(name)
    if modules is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for module_name in modules:
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module_name}":
                raise
            continue
        if hasattr(module, name):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r}: {name!r} is not available (modules {modules})")


def __dir__() -> list[str]:
    return sorted(__all__)

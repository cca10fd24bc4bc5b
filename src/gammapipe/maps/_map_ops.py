"""Arithmetic, comparison and boolean operators of maps (unit-aware)."""

from __future__ import annotations

import operator

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GeometryError, UnitError

__all__ = ["ArithmeticMixin"]

# operators whose operands must share a unit (the other one is converted)
_SAME_UNIT = {operator.add, operator.sub, operator.iadd, operator.isub}
_COMPARE = {operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne}
_BOOL = {operator.and_, operator.or_, operator.xor, operator.iand, operator.ior, operator.ixor}


def _op_name(op) -> str:
    return getattr(op, "__name__", str(op)).strip("_")


class ArithmeticMixin:
    """Operators for `Map`: ``+ - * / **``, comparisons, ``~ & | ^`` and in-place forms.

    The other operand may be a scalar, an array broadcastable to the data, a Quantity or
    a map. A map must have the same geometry, or be an image with the same spatial
    geometry (broadcast over the non-spatial axes); otherwise `GeometryError` is raised.
    Addition, subtraction and comparisons convert the other operand to this map's unit
    (`UnitError` when not convertible; plain numbers and arrays are taken to be in the map
    unit); multiplication and division combine units.
    """

    __array_priority__ = 1000  # numpy defers to our reflected operators

    def _other_quantity(self, other, op) -> u.Quantity | np.ndarray:
        from .core import Map

        if isinstance(other, Map):
            if not self._geom_matches(other.geom):
                if not self._broadcastable_image(other):
                    raise GeometryError(
                        f"map {_op_name(op)}: inconsistent geometries, this map has shape "
                        f"{self.data.shape} ({type(self.geom).__name__}), the other "
                        f"{other.data.shape} ({type(other.geom).__name__})"
                    )
            if other.is_mask:
                return other.data
            return u.Quantity(other.data, other.unit, copy=False)
        if isinstance(other, u.Quantity):
            return other
        return np.asarray(other)

    def _broadcastable_image(self, other) -> bool:
        if other.geom.axes.names and other.data.shape[:-2] != (1,) * (other.data.ndim - 2):
            return False
        try:
            mine = self.geom.to_image()
            theirs = other.geom.to_image()
        except AttributeError:
            return False
        if type(mine) is not type(theirs) or self.data.shape[-2:] != other.data.shape[-2:]:
            return False
        if hasattr(mine, "is_allclose"):
            return bool(mine.is_allclose(theirs))
        return bool(mine == theirs)

    def _other_data(self, other):
        data = other.value if isinstance(other, u.Quantity) else other
        data = np.asarray(data)
        nd = self.data.ndim
        if data.ndim == nd or data.ndim == 0:
            return data
        if data.ndim == 2 and nd > 2:
            return data.reshape((1,) * (nd - 2) + data.shape)
        return data

    def _arithmetics(self, op, other, copy: bool = True):
        q_other = self._other_quantity(other, op)
        mask_op = op in _BOOL
        if mask_op:
            other_dtype = np.asarray(getattr(q_other, "value", q_other)).dtype
            if self.data.dtype != np.bool_ or other_dtype != np.bool_:
                raise TypeError(
                    f"map {_op_name(op)}: boolean operators need boolean (mask) maps, got "
                    f"{self.data.dtype} and {other_dtype}"
                )
            result = op(self.data, self._other_data(q_other))
            return self._finish(result, u.dimensionless_unscaled, copy)

        self_q = u.Quantity(self.data, self.unit, copy=False)
        if op in _SAME_UNIT or op in _COMPARE:
            # plain numbers / arrays are taken in the map unit (``exposure > 0``)
            other_unit = getattr(q_other, "unit", self.unit)
            try:
                scale = other_unit.to(self.unit) if other_unit != self.unit else 1.0
            except u.UnitConversionError as exc:
                raise UnitError(
                    f"map {_op_name(op)}: unit {other_unit} of the other operand is not "
                    f"convertible to the map unit {self.unit}"
                ) from exc
            other_value = self._other_data(q_other)
            if scale != 1.0:
                other_value = other_value * scale
            if op in _COMPARE:
                return self._finish(op(self.data, other_value), u.dimensionless_unscaled, True)
            if copy:
                result = op(self.data, other_value)
            else:
                base = {operator.iadd: np.add, operator.isub: np.subtract}[op]
                base(self.data, other_value, out=self.data, casting="unsafe")
                return self
            return self._finish(result, self.unit, copy)

        if op in (operator.pow, operator.ipow):
            exponent = q_other
            if isinstance(exponent, u.Quantity):
                try:
                    exponent = exponent.to_value(u.dimensionless_unscaled)
                except u.UnitConversionError as exc:
                    raise UnitError("map **: the exponent must be dimensionless") from exc
            result = self_q ** np.asarray(exponent)
        else:
            if isinstance(q_other, u.Quantity):
                other_value = u.Quantity(self._other_data(q_other), q_other.unit, copy=False)
            else:
                other_value = self._other_data(q_other)
            result = op(self_q, other_value)
        result = u.Quantity(result)
        if not copy:
            target = result.value
            same_kind = np.can_cast(target.dtype, self.data.dtype, "same_kind")
            if self.data.shape == target.shape and same_kind:
                self.data[...] = target
            else:
                self.data = target
            self._unit = result.unit
            return self
        return self._finish(result.value, result.unit, True)

    def _finish(self, data, unit, copy):
        if not copy:
            self.data[...] = data
            self._unit = u.Unit(unit)
            return self
        if data.shape != self.data.shape:
            data = np.broadcast_to(data, self.data.shape).copy()
        return self._init_from(geom=self.geom, data=data, unit=unit, meta=dict(self.meta))

    def _reflected(self, op, other):
        """``other op self`` for scalars / quantities / arrays."""
        from .core import Map

        if isinstance(other, Map):  # pragma: no cover - Python calls other's method first
            return other._arithmetics(op, self)
        q_other = other if isinstance(other, u.Quantity) else np.asarray(other)
        if op in (operator.add, operator.sub):
            unit = getattr(q_other, "unit", self.unit)
            try:
                self_value = self.quantity.to_value(unit) if unit != self.unit else self.data
            except u.UnitConversionError as exc:
                raise UnitError(
                    f"map {_op_name(op)}: map unit {self.unit} is not convertible to {unit}"
                ) from exc
            result = op(np.asarray(getattr(q_other, "value", q_other)), self_value)
            return self._finish(np.asarray(result), unit, True)
        if op is operator.pow:
            base = q_other
            if isinstance(base, u.Quantity) and self.unit != u.dimensionless_unscaled:
                raise UnitError("map **: the exponent map must be dimensionless")
            result = u.Quantity(base ** self.quantity.to_value(u.dimensionless_unscaled))
            return self._finish(result.value, result.unit, True)
        result = u.Quantity(op(q_other, self.quantity))
        return self._finish(result.value, result.unit, True)

    # arithmetic
    def __add__(self, other):
        return self._arithmetics(operator.add, other)

    def __radd__(self, other):
        return self._reflected(operator.add, other)

    def __iadd__(self, other):
        return self._arithmetics(operator.iadd, other, copy=False)

    def __sub__(self, other):
        return self._arithmetics(operator.sub, other)

    def __rsub__(self, other):
        return self._reflected(operator.sub, other)

    def __isub__(self, other):
        return self._arithmetics(operator.isub, other, copy=False)

    def __mul__(self, other):
        return self._arithmetics(operator.mul, other)

    def __rmul__(self, other):
        return self._reflected(operator.mul, other)

    def __imul__(self, other):
        return self._arithmetics(operator.mul, other, copy=False)

    def __truediv__(self, other):
        return self._arithmetics(operator.truediv, other)

    def __rtruediv__(self, other):
        return self._reflected(operator.truediv, other)

    def __itruediv__(self, other):
        return self._arithmetics(operator.truediv, other, copy=False)

    def __pow__(self, other):
        return self._arithmetics(operator.pow, other)

    def __rpow__(self, other):
        return self._reflected(operator.pow, other)

    def __neg__(self):
        return self._finish(-self.data, self.unit, True)

    def __pos__(self):
        return self.copy()

    def __abs__(self):
        return self._finish(np.abs(self.data), self.unit, True)

    # comparisons -> bool maps
    def __lt__(self, other):
        return self._arithmetics(operator.lt, other)

    def __le__(self, other):
        return self._arithmetics(operator.le, other)

    def __gt__(self, other):
        return self._arithmetics(operator.gt, other)

    def __ge__(self, other):
        return self._arithmetics(operator.ge, other)

    def __eq__(self, other):
        return self._arithmetics(operator.eq, other)

    def __ne__(self, other):
        return self._arithmetics(operator.ne, other)

    __hash__ = None  # maps are mutable

    # boolean masks
    def __and__(self, other):
        return self._arithmetics(operator.and_, other)

    def __or__(self, other):
        return self._arithmetics(operator.or_, other)

    def __xor__(self, other):
        return self._arithmetics(operator.xor, other)

    def __iand__(self, other):
        return self._arithmetics(operator.and_, other, copy=False)

    def __ior__(self, other):
        return self._arithmetics(operator.or_, other, copy=False)

    def __ixor__(self, other):
        return self._arithmetics(operator.xor, other, copy=False)

    def __invert__(self):
        if self.data.dtype != bool:
            raise TypeError(f"map ~: needs a boolean (mask) map, got dtype {self.data.dtype}")
        return self._finish(~self.data, u.dimensionless_unscaled, True)

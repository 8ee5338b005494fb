"""The ops around recurrent nodes, in numpy, for the backend's Graph (_graph.py).

What torch's exporters write for the layers users put around recurrent ones:
elementwise arithmetic and activations, comparisons and Where, Gemm, Softmax,
LogSoftmax, LayerNormalization, ReduceMean/Sum/Max, Dropout (inference: the
identity), Flatten and Range. Each factory reads and checks the node once
(attributes, input counts) and returns a run(inputs) -> [outputs]; every
result's size is checked before it is made (check_result_size, _limits.py).
Semantics follow the ONNX operator specification at the model's opset.
"""
import math

import numpy as np

from fastrnn._arrays import ShapeError
from fastrnn.onnx._graph import _axes, _ints_argument, check_result_size
from fastrnn.onnx._limits import shape_text


def _broadcast(ctx, arrays):
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        raise ctx.error(f"cannot broadcast shapes {[shape_text(a.shape) for a in arrays]}",
                        ShapeError) from None


def _same_type(ctx, arrays, kinds="fiu"):
    dtype = arrays[0].dtype
    for a in arrays[1:]:
        if a.dtype != dtype:
            raise ctx.error(f"inputs must have one type, got {dtype} and {a.dtype}", TypeError)
    if dtype.kind not in kinds:
        raise ctx.error(f"inputs of type {dtype} are not supported", TypeError)
    return dtype


# ------------------------------------------------------------------ elementwise
def _binary(fn, kinds="fiu", same_type=True, result=None):
    def factory(ctx):
        ctx.allow_attributes()
        ctx.inputs(2, 2)
        ctx.outputs(1, 1)

        def run(inputs):
            a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
            dtype = _same_type(ctx, [a, b], kinds) if same_type else a.dtype
            shape = _broadcast(ctx, [a, b])
            check_result_size(ctx, shape, result or dtype)
            with np.errstate(all="ignore"):
                out = fn(a, b)
            return [np.asarray(out, dtype=result or dtype)]
        return run
    return factory


def _int_div(a, b):
    if a.dtype.kind in "iu":
        with np.errstate(all="ignore"):
            q = np.trunc(np.true_divide(a, np.where(b == 0, 1, b)))  # C's division truncates
        return q
    return np.true_divide(a, b)


def _unary(fn, kinds="f", attributes=()):
    def factory(ctx):
        ctx.allow_attributes(*(name for name, _, _ in attributes))
        ctx.inputs(1, 1)
        ctx.outputs(1, 1)
        values = {name: ctx.attribute(name, kind, default) for name, kind, default in attributes}

        def run(inputs):
            x = np.asarray(inputs[0])
            if x.dtype.kind not in kinds:
                raise ctx.error(f"inputs of type {x.dtype} are not supported", TypeError)
            with np.errstate(all="ignore"):
                return [np.asarray(fn(x, **values), dtype=x.dtype)]
        return run
    return factory


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0, x)


_ERF = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    if x.dtype == np.float64:
        return _ERF(x).astype(np.float64)
    # Abramowitz and Stegun 7.1.26 in float64: within 1.5e-7 of erf, float32's precision
    a = np.abs(x.astype(np.float64))
    t = 1 / (1 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    return np.sign(x) * (1 - poly * np.exp(-a * a))


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


UNARY = {
    "Neg": _unary(np.negative, "fi"), "Abs": _unary(np.abs, "fiu"), "Sqrt": _unary(np.sqrt),
    "Exp": _unary(np.exp), "Log": _unary(np.log), "Tanh": _unary(np.tanh),
    "Sigmoid": _unary(_sigmoid), "Softplus": _unary(_softplus), "Erf": _unary(_erf),
    "Reciprocal": _unary(np.reciprocal),
    "Relu": _unary(lambda x: np.where(x < 0, x.dtype.type(0), x), "fi"),
    "LeakyRelu": _unary(lambda x, alpha: np.where(x < 0, alpha * x, x),
                        attributes=[("alpha", "float", 0.01)]),
    "Elu": _unary(lambda x, alpha: np.where(x < 0, alpha * (np.exp(x) - 1), x),
                  attributes=[("alpha", "float", 1.0)]),
    "HardSigmoid": _unary(lambda x, alpha, beta: np.clip(alpha * x + beta, 0, 1),
                          attributes=[("alpha", "float", 0.2), ("beta", "float", 0.5)]),
    "Gelu": _unary(_gelu, attributes=[("approximate", "string", "none")]),
    "Not": _unary(np.logical_not, "b"),
}

BINARY = {
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply),
    "Div": _binary(_int_div), "Pow": _binary(np.power, same_type=False),
    "Equal": _binary(np.equal, "fiub", result=np.bool_),
    "Less": _binary(np.less, result=np.bool_), "Greater": _binary(np.greater, result=np.bool_),
    "LessOrEqual": _binary(np.less_equal, result=np.bool_),
    "GreaterOrEqual": _binary(np.greater_equal, result=np.bool_),
    "And": _binary(np.logical_and, "b", result=np.bool_),
    "Or": _binary(np.logical_or, "b", result=np.bool_),
    "Xor": _binary(np.logical_xor, "b", result=np.bool_),
}


def op_where(ctx):
    ctx.allow_attributes()
    ctx.inputs(3, 3)
    ctx.outputs(1, 1)

    def run(inputs):
        cond, x, y = (np.asarray(v) for v in inputs)
        if cond.dtype != np.bool_:
            raise ctx.error(f"condition must be bool, got {cond.dtype}", TypeError)
        dtype = _same_type(ctx, [x, y], "fiub")
        check_result_size(ctx, _broadcast(ctx, [cond, x, y]), dtype)
        return [np.where(cond, x, y)]
    return run


def op_clip(ctx):
    ctx.outputs(1, 1)
    if ctx.opset < 11:
        ctx.allow_attributes("min", "max")
        ctx.inputs(1, 1)
        bounds = (ctx.attribute("min", "float", -np.inf), ctx.attribute("max", "float", np.inf))
    else:
        ctx.allow_attributes()
        ctx.inputs(1, 3)
        bounds = None

    def run(inputs):
        x = np.asarray(inputs[0])
        low, high = bounds if bounds is not None else (
            inputs[1] if len(inputs) > 1 and inputs[1] is not None else None,
            inputs[2] if len(inputs) > 2 and inputs[2] is not None else None)
        for bound in (low, high):
            if bound is not None and np.size(bound) != 1:
                raise ctx.error(f"min and max must be scalars, got shape {np.shape(bound)}",
                                ShapeError)
        out = x
        if low is not None:
            out = np.maximum(out, np.asarray(low, x.dtype).reshape(()))
        if high is not None:
            out = np.minimum(out, np.asarray(high, x.dtype).reshape(()))
        return [np.array(out, dtype=x.dtype)]
    return run


# ------------------------------------------------------------------ layers
def op_gemm(ctx):
    ctx.allow_attributes("alpha", "beta", "transA", "transB")
    ctx.inputs(2, 3)
    ctx.outputs(1, 1)
    alpha, beta = ctx.attribute("alpha", "float", 1.0), ctx.attribute("beta", "float", 1.0)
    trans_a, trans_b = ctx.attribute("transA", "int", 0), ctx.attribute("transB", "int", 0)

    def run(inputs):
        a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
        c = np.asarray(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else None
        dtype = _same_type(ctx, [a, b] + ([c] if c is not None else []))
        if a.ndim != 2 or b.ndim != 2:
            raise ctx.error(f"A and B must be 2-D, got shapes {shape_text(a.shape)} and "
                            f"{shape_text(b.shape)}", ShapeError)
        a, b = (a.T if trans_a else a), (b.T if trans_b else b)
        if a.shape[1] != b.shape[0]:
            raise ctx.error(f"cannot multiply {list(a.shape)} by {list(b.shape)}", ShapeError)
        shape = (a.shape[0], b.shape[1])
        if c is not None and c.shape not in ((shape[1],), shape) and (
                c.ndim > 2 or any(g not in (1, w) for g, w in zip(c.shape[::-1], shape[::-1]))):
            raise ctx.error(f"C of shape {list(c.shape)} does not broadcast to {list(shape)}",
                            ShapeError)
        check_result_size(ctx, shape, dtype)
        out = a @ b
        if alpha != 1:
            out *= dtype.type(alpha)
        if c is not None and beta != 0:
            out += c if beta == 1 else dtype.type(beta) * c
        return [out]
    return run


def _softmax_factory(log):
    def factory(ctx):
        ctx.allow_attributes("axis")
        ctx.inputs(1, 1)
        ctx.outputs(1, 1)
        axis = ctx.attribute("axis", "int", -1 if ctx.opset >= 13 else 1)

        def run(inputs):
            x = np.asarray(inputs[0])
            if x.dtype.kind != "f":
                raise ctx.error(f"inputs of type {x.dtype} are not supported", TypeError)
            (ax,) = _axes(ctx, [axis], max(x.ndim, 1))
            if ctx.opset < 13:  # the axes from `axis` on are one (coerced to 2-D)
                flat = x.reshape(int(np.prod(x.shape[:ax], dtype=np.int64)), -1)
                return [run_axis(flat, 1).reshape(x.shape)]
            return [run_axis(x, ax)]

        def run_axis(x, ax):
            shifted = x - np.max(x, axis=ax, keepdims=True)
            with np.errstate(all="ignore"):
                if log:
                    return shifted - np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))
                e = np.exp(shifted)
                return e / np.sum(e, axis=ax, keepdims=True)
        return run
    return factory


def op_layer_normalization(ctx):
    ctx.allow_attributes("axis", "epsilon", "stash_type")
    ctx.inputs(2, 3)
    outputs = ctx.outputs(1, 3)
    axis, epsilon = ctx.attribute("axis", "int", -1), ctx.attribute("epsilon", "float", 1e-5)

    def run(inputs):
        x, scale = np.asarray(inputs[0]), np.asarray(inputs[1])
        bias = np.asarray(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else None
        _same_type(ctx, [x, scale] + ([bias] if bias is not None else []), "f")
        (ax,) = _axes(ctx, [axis], max(x.ndim, 1))
        axes = tuple(range(ax, x.ndim))
        stash = np.float32 if x.dtype == np.float32 else x.dtype.type  # stash_type 1: float32
        xs = x.astype(stash)
        mean = xs.mean(axis=axes, keepdims=True)
        inv = 1 / np.sqrt(((xs - mean) ** 2).mean(axis=axes, keepdims=True) + stash(epsilon))
        y = ((xs - mean) * inv).astype(x.dtype) * scale
        if bias is not None:
            y = y + bias
        return [y.astype(x.dtype), mean, inv][:len(outputs)]
    return run


def _reduce_factory(fn, axes_input_from):
    def factory(ctx):
        if ctx.opset >= axes_input_from:
            ctx.allow_attributes("keepdims", "noop_with_empty_axes")
            ctx.inputs(1, 2)
            get_axes = _ints_argument(ctx, 1, "axes")
        else:
            ctx.allow_attributes("axes", "keepdims")
            ctx.inputs(1, 1)
            stored = ctx.attribute("axes", "ints")
            get_axes = lambda inputs: stored  # noqa: E731
        ctx.outputs(1, 1)
        keepdims = bool(ctx.attribute("keepdims", "int", 1))
        noop = bool(ctx.attribute("noop_with_empty_axes", "int", 0))

        def run(inputs):
            x = np.asarray(inputs[0])
            if x.dtype.kind not in ("fiub" if fn is np.max else "fiu"):
                raise ctx.error(f"inputs of type {x.dtype} are not supported", TypeError)
            axes = get_axes(inputs)
            if not axes:
                if noop:
                    return [x]
                axes = list(range(x.ndim))
            axes = tuple(_axes(ctx, axes, max(x.ndim, 1)))
            kwargs = {}
            if fn is np.max:  # the maximum of nothing: the type's lowest value, as ONNX says
                kwargs["initial"] = (-np.inf if x.dtype.kind == "f" else False
                                     if x.dtype.kind == "b" else np.iinfo(x.dtype).min)
            return [np.asarray(fn(x, axis=axes, keepdims=keepdims, **kwargs), dtype=x.dtype)]
        return run
    return factory


def op_dropout(ctx):
    """Inference: the identity (and a mask of ones when asked for)."""
    ctx.allow_attributes("seed", "ratio", "is_test")
    ctx.inputs(1, 3)
    outputs = ctx.outputs(1, 2)

    def run(inputs):
        x = np.asarray(inputs[0])
        if len(inputs) > 2 and inputs[2] is not None and np.any(inputs[2]):
            raise ctx.error("training_mode is true: fastrnn runs models for inference only",
                            ValueError)
        if len(outputs) > 1:
            return [x, np.ones(x.shape, np.bool_)]
        return [x]
    return run


def op_flatten(ctx):
    ctx.allow_attributes("axis")
    ctx.inputs(1, 1)
    ctx.outputs(1, 1)
    axis = ctx.attribute("axis", "int", 1)

    def run(inputs):
        x = np.asarray(inputs[0])
        if not -x.ndim <= axis <= x.ndim:
            raise ctx.error(f"axis {axis} is out of range for rank {x.ndim}", ValueError)
        ax = axis + x.ndim if axis < 0 else axis
        rows = int(np.prod(x.shape[:ax], dtype=np.int64))
        return [x.reshape(rows, int(np.prod(x.shape[ax:], dtype=np.int64)))]
    return run


def op_range(ctx):
    ctx.allow_attributes()
    ctx.inputs(3, 3)
    ctx.outputs(1, 1)

    def run(inputs):
        start, limit, delta = (np.asarray(v) for v in inputs)
        dtype = _same_type(ctx, [start, limit, delta])
        if start.size != 1 or limit.size != 1 or delta.size != 1:
            raise ctx.error("start, limit and delta must be scalars", ShapeError)
        if delta.reshape(()) == 0:
            raise ctx.error("delta must not be 0", ValueError)
        count = max(int(math.ceil((float(limit.reshape(())) - float(start.reshape(())))
                                  / float(delta.reshape(())))), 0)
        check_result_size(ctx, (count,), dtype)
        return [(start.reshape(()) + np.arange(count, dtype=dtype) * delta.reshape(())
                 ).astype(dtype)]
    return run


MATH_OPS = dict(
    UNARY, **BINARY, Where=op_where, Clip=op_clip, Gemm=op_gemm,
    Softmax=_softmax_factory(False), LogSoftmax=_softmax_factory(True),
    LayerNormalization=op_layer_normalization,
    ReduceMean=_reduce_factory(np.mean, 18), ReduceSum=_reduce_factory(np.sum, 13),
    ReduceMax=_reduce_factory(np.max, 18), Dropout=op_dropout, Flatten=op_flatten,
    Range=op_range,
)

"""beras's autodiff core: tensors, the tape, and every differentiable op."""
from .tensor import (GradientTape, Tensor, Variable, as_dtype, constant, convert_to_tensor,  # noqa: F401
                     primitive, unbroadcast)
from .ops import *  # noqa: F401,F403
from .ops import (abs, add, argmax, cast, clip_by_value, concat, divide, equal, exp,  # noqa: F401
                  expand_dims, log, matmul, maximum, minimum, multiply, negative, one_hot, ones,
                  ones_like, pow, reduce_max, reduce_mean, reduce_min, reduce_sum, reshape, shape,
                  sigmoid, sqrt, square, squeeze, stack, subtract, tanh, transpose, where, zeros,
                  zeros_like)

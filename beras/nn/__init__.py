"""``beras.nn`` mirrors ``tf.nn``: activations, cross-entropies, and the CNN ops."""
from .activations import (elu, leaky_relu, log_softmax, relu, relu6, sigmoid,  # noqa: F401
                          sigmoid_cross_entropy_with_logits, softmax,
                          softmax_cross_entropy_with_logits, softplus,
                          sparse_softmax_cross_entropy_with_logits, tanh)

"""``beras.nn`` mirrors ``tf.nn``: activations, cross-entropies, and the CNN ops."""
from .activations import (elu, leaky_relu, log_softmax, relu, relu6, sigmoid,  # noqa: F401
                          sigmoid_cross_entropy_with_logits, softmax,
                          softmax_cross_entropy_with_logits, softplus,
                          sparse_softmax_cross_entropy_with_logits, tanh)
from .conv import bias_add, conv2d, depthwise_conv2d  # noqa: F401,E402
from .normalization import batch_normalization, moments  # noqa: F401,E402
from .pooling import avg_pool, avg_pool2d, max_pool, max_pool2d  # noqa: F401,E402

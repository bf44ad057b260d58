"""Small .tflite models made with TF's own converter for the delegate tests.

Each builder returns the model's bytes. Keras models use random (seeded) weights;
shapes stay small so conversion and TFLite reference runs take well under a second.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras = tf.keras


def _convert_keras(model: keras.Model, **settings: object) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    for k, v in settings.items():
        setattr(conv, k, v)
    return conv.convert()


def _convert_fn(fn: tf.types.experimental.GenericFunction) -> bytes:
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    return conv.convert()


def keras_cnn(batch: int | None = 1) -> bytes:
    """MobileNet/ResNet-like blocks: conv, depthwise, batch norm, relu6, pools, transpose conv,
    upsampling, resize, concat, residual add, dense, softmax."""
    keras.utils.set_random_seed(1)
    x_in = keras.Input((16, 16, 3), batch_size=batch)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x_in)
    y = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU(6.0)(y)
    y = keras.layers.Conv2D(8, 1)(y)
    z = keras.layers.MaxPooling2D(2, padding="same")(x)
    z = keras.layers.AveragePooling2D(3, strides=1, padding="same")(z)
    y = keras.layers.Add()([y, z])
    u = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(y)
    v = keras.layers.UpSampling2D(2)(y)
    w = keras.layers.Resizing(16, 16, interpolation="bilinear")(y)
    n = keras.layers.Resizing(16, 16, interpolation="nearest")(y)
    c = keras.layers.Concatenate()([u, v, w, n, x])
    c = keras.layers.Conv2D(6, 3, strides=2, padding="valid", dilation_rate=1, activation="tanh")(c)
    g = keras.layers.GlobalAveragePooling2D()(c)
    logits = keras.layers.Dense(10)(g)
    probs = keras.layers.Softmax()(logits)
    model = keras.Model(x_in, [logits, probs])
    # BatchNormalization with non-trivial statistics.
    bn = model.layers[3]
    bn.set_weights([np.linspace(0.5, 1.5, 8), np.linspace(-0.2, 0.2, 8), np.linspace(-0.1, 0.1, 8),
                    np.linspace(0.5, 2.0, 8)])
    return _convert_keras(model)


def misc_function() -> bytes:
    """A tf.function with shape ops, reductions, math and logic."""

    @tf.function(input_signature=[tf.TensorSpec([2, 6, 8], tf.float32), tf.TensorSpec([8, 5], tf.float32)])
    def f(x: tf.Tensor, w: tf.Tensor) -> list[tf.Tensor]:
        a, b = tf.split(x, 2, axis=2)
        p = tf.pad(a, [[0, 0], [1, 2], [0, 1]])
        s = x[:, 1:5:2, ::3]
        t = tf.transpose(b, [0, 2, 1])
        m = tf.matmul(x, w)
        bm = tf.matmul(x, x, transpose_b=True)
        r = tf.reshape(m, [2, 30])
        act = tf.nn.leaky_relu(m, 0.1) + tf.nn.sigmoid(m) * tf.nn.tanh(m) + tf.nn.elu(m)
        red = tf.reduce_mean(x, axis=1) + tf.reduce_max(x, axis=1) - tf.reduce_sum(x, axis=1, keepdims=False)
        g = tf.gather(x, [2, 0, 5], axis=1)
        sq = tf.math.squared_difference(a, b) + tf.exp(-tf.abs(a)) + tf.math.log(tf.abs(b) + 1.0)
        sel = tf.where(a > b, a, b * 2.0)
        cs = tf.math.cumsum(x, axis=2)
        am = tf.argmax(x, axis=2, output_type=tf.int32)
        sm = tf.nn.softmax(m * 0.5)
        return [p, s, t, r, act, red, g, sq, sel, cs, am, sm, bm]

    return _convert_fn(f)


def fallback_function() -> bytes:
    """FLOOR_MOD (no WebNN converter) in the middle of WebNN-able nodes."""

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 4], tf.float32)])
    def f(x: tf.Tensor) -> tf.Tensor:
        y = tf.nn.relu(x * 3.0 + 1.0)
        z = tf.math.floormod(y, 2.5)
        return tf.nn.tanh(z * 2.0 - 1.0) + tf.reduce_mean(y, axis=[1, 2], keepdims=True)

    return _convert_fn(f)


def control_flow_function() -> bytes:
    """Several subgraphs: a WHILE loop whose body the delegate can take."""

    @tf.function(input_signature=[tf.TensorSpec([4, 4], tf.float32)])
    def f(x: tf.Tensor) -> tf.Tensor:
        i = tf.constant(0)

        def body(i: tf.Tensor, v: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return i + 1, tf.nn.tanh(tf.matmul(v, v) * 0.5 + 0.1)

        _, out = tf.while_loop(lambda i, v: i < 3, body, [i, x])
        return out * 2.0

    return _convert_fn(f)


def _calibration() -> object:
    rng = np.random.default_rng(0)

    def gen():  # noqa: ANN202
        for _ in range(8):
            yield [rng.random((1, 16, 16, 3), dtype=np.float32)]

    return gen


def int8_cnn(int8_io: bool = False) -> bytes:
    """Full-integer quantized CNN (int8 weights and activations)."""
    keras.utils.set_random_seed(2)
    x_in = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x_in)
    a = keras.layers.MaxPooling2D(2)(x)
    b = keras.layers.Reshape((8 * 8 * 8,))(a)
    b = keras.layers.Dense(10)(b)
    model = keras.Model(x_in, b)
    settings: dict[str, object] = {"optimizations": [tf.lite.Optimize.DEFAULT],
                                   "representative_dataset": _calibration(),
                                   "target_spec": tf.lite.TargetSpec(
                                       supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8])}
    if int8_io:
        settings["inference_input_type"] = tf.int8
        settings["inference_output_type"] = tf.int8
    return _convert_keras(model, **settings)


def float16_weights_cnn() -> bytes:
    """Float16-quantized weights: DEQUANTIZE(float16 constant) feeding float32 convolutions."""
    keras.utils.set_random_seed(3)
    x_in = keras.Input((8, 8, 3), batch_size=1)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x_in)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5)(x)
    target = tf.lite.TargetSpec()
    target.supported_types = [tf.float16]
    return _convert_keras(keras.Model(x_in, x), optimizations=[tf.lite.Optimize.DEFAULT], target_spec=target)


def resize_nearest_function(size: int) -> bytes:
    """8x8 -> size x size nearest-neighbour resize (half-pixel centers, as TF2 does it)."""

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 2], tf.float32)])
    def f(x: tf.Tensor) -> tf.Tensor:
        return tf.image.resize(x * 2.0, [size, size], method="nearest") + 1.0

    return _convert_fn(f)


def keras_mobilenet_v2() -> bytes:
    """Keras' MobileNetV2 architecture (random weights, logits out), 64x64, width 0.35."""
    keras.utils.set_random_seed(4)
    net = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, weights=None, classes=10,
                                         classifier_activation=None)
    x_in = keras.Input((64, 64, 3), batch_size=1)
    return _convert_keras(keras.Model(x_in, net(x_in)))


def small_conv(activation: str | None = "relu", batch: int | None = 1) -> bytes:
    """Conv (fused ``activation``) -> 1x1 conv -> pool -> dense, with the same seeded weights for every
    ``activation``: two calls that differ only in it differ only in one op attribute."""
    keras.utils.set_random_seed(3)
    x_in = keras.Input((8, 8, 5), batch_size=batch)
    x = keras.layers.Conv2D(4, 3, padding="same", activation=activation)(x_in)  # OHWI [4,3,3,5] != OIHW
    x = keras.layers.Conv2D(6, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(5)(x)
    return _convert_keras(keras.Model(x_in, out))

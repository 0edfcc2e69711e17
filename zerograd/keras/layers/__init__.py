"""Keras layers (``zerograd.keras.layers``)."""

from zerograd.keras.base import Input, InputLayer, Layer
from zerograd.keras.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from zerograd.keras.layers.attention import MultiHeadAttention
from zerograd.keras.layers.attention_luong import AdditiveAttention, Attention
from zerograd.keras.layers.categorical import CategoryEncoding, Discretization
from zerograd.keras.layers.conv import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Convolution1D,
    Convolution1DTranspose,
    Convolution2D,
    Convolution2DTranspose,
)
from zerograd.keras.layers.conv_depthwise import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConvolution1D,
    SeparableConvolution2D,
)
from zerograd.keras.layers.core import (
    Activation,
    BatchNormalization,
    Dense,
    Embedding,
    Flatten,
    LayerNormalization,
    Reshape,
)
from zerograd.keras.layers.einsum_dense import EinsumDense
from zerograd.keras.layers.image_augmentation import (
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from zerograd.keras.layers.image_preprocessing import CenterCrop, Resizing
from zerograd.keras.layers.lambda_layer import Lambda
from zerograd.keras.layers.lookup import IntegerLookup, StringLookup
from zerograd.keras.layers.masking import Masking
from zerograd.keras.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from zerograd.keras.layers.normalization_more import (
    GroupNormalization,
    Identity,
    RMSNormalization,
    UnitNormalization,
)
from zerograd.keras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from zerograd.keras.layers.preprocessing import Normalization, Rescaling
from zerograd.keras.layers.recurrent import GRU, LSTM, SimpleRNN
from zerograd.keras.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from zerograd.keras.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from zerograd.keras.layers.rnn import RNN
from zerograd.keras.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from zerograd.keras.layers.volumetric import (
    AveragePooling3D,
    AvgPool3D,
    Conv3D,
    Conv3DTranspose,
    Convolution3D,
    Convolution3DTranspose,
    Cropping3D,
    GlobalAveragePooling3D,
    GlobalAvgPool3D,
    GlobalMaxPool3D,
    GlobalMaxPooling3D,
    MaxPool3D,
    MaxPooling3D,
    UpSampling3D,
    ZeroPadding3D,
)
from zerograd.keras.layers.wrappers import Bidirectional, TimeDistributed


def deserialize(config: dict, custom_objects=None) -> Layer:
    """A layer from its serialized dict (built-in or registered names only: no code runs)."""
    from zerograd.keras.saving import deserialize_keras_object

    classes = {k: v for k, v in globals().items() if isinstance(v, type) and issubclass(v, Layer)}
    layer = deserialize_keras_object(config, custom_objects, module_objects=classes)
    if not isinstance(layer, Layer):
        raise ValueError(
            f"layers.deserialize: expected a layer config, received one for {type(layer).__name__}"
        )
    return layer


def serialize(layer: Layer) -> dict:
    """A layer as Keras 3's dict: module, class_name, config, registered_name."""
    from zerograd.keras.saving import serialize_keras_object

    return serialize_keras_object(layer)
